/**
 * The parser libraries are optionalDependencies: the core never needs them, and a
 * user who installs without optional packages keeps packet capture. They load on first
 * use, and a missing one says which package to install.
 */
import { MissingDependencyError } from '../errors';

const loaded = new Map<string, unknown>();

export function optional<T>(name: string, purpose: string): T {
  if (!loaded.has(name)) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      loaded.set(name, require(name));
    } catch (err) {
      throw new MissingDependencyError(`${purpose} needs the package ${name}: npm install ${name}`, err);
    }
  }
  return loaded.get(name) as T;
}
