/**
 * Command-line parsing in tcpdump's style: short flags that may be bundled (-nc5),
 * values attached or separate (-c5, -c 5), a few long options (--backend X or
 * --backend=X), and the words after the flags as the filter expression.
 */
import { didYouMean } from '../did-you-mean';

/** A command line the CLI cannot act on: exit code 2. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

export interface Spec {
  /** Short flags that take a value. */
  valued: string;
  /** Short flags that do not. */
  flags: string;
  /** Long options that take a value, and those whose value is optional (--tls or --tls=required). */
  longValued: string[];
  longOptional: string[];
  longFlags: string[];
  /** Long names people try for short flags (tcpdump's: interface for -i): suggested, not taken. */
  hints?: Record<string, string>;
}

export interface Parsed {
  /** Values of each option in order (flags get 'true'). */
  options: Map<string, string[]>;
  positional: string[];
}

/**
 * tcpdump's -q (quiet: shorter lines) is accepted wherever tcpdump's -n is (the capture
 * commands) and changes nothing: their lines are in that short style already.
 */
function alreadyQuiet(flag: string, spec: Spec): boolean {
  return flag === 'q' && spec.flags.includes('n');
}

export function parseArgs(argv: readonly string[], spec: Spec): Parsed {
  const options = new Map<string, string[]>();
  const positional: string[] = [];
  const add = (name: string, value: string): void => {
    options.set(name, [...(options.get(name) ?? []), value]);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
      const inline = eq < 0 ? undefined : arg.slice(eq + 1);
      if (spec.longFlags.includes(name)) {
        if (inline !== undefined) throw new UsageError(`--${name} takes no value`);
        add(name, 'true');
      } else if (spec.longOptional.includes(name)) {
        add(name, inline ?? 'true');
      } else if (spec.longValued.includes(name)) {
        const value = inline ?? argv[++i];
        if (value === undefined) throw new UsageError(`--${name} needs a value`);
        add(name, value);
      } else {
        const hints = spec.hints ?? {};
        const meant = didYouMean(name, [...spec.longFlags, ...spec.longOptional, ...spec.longValued, ...Object.keys(hints)]);
        const flag = meant === undefined ? undefined : Object.hasOwn(hints, meant) ? `-${hints[meant]}` : `--${meant}`;
        throw new UsageError(`unknown option --${name}${flag ? `: did you mean ${flag}?` : ''}`);
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const flag = arg[j]!;
        if (spec.flags.includes(flag)) {
          add(flag, 'true');
        } else if (alreadyQuiet(flag, spec)) {
          continue;
        } else if (spec.valued.includes(flag)) {
          const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i];
          if (value === undefined) throw new UsageError(`-${flag} needs a value`);
          add(flag, value);
          break;
        } else {
          throw new UsageError(`unknown flag -${flag}`);
        }
      }
      continue;
    }
    positional.push(arg);
  }
  return { options, positional };
}

/** The last value given for `name` (tcpdump: a later flag wins), or undefined. */
export function last(parsed: Parsed, name: string): string | undefined {
  return parsed.options.get(name)?.at(-1);
}

export function integerArg(parsed: Parsed, name: string, flag: string, min: number): number | undefined {
  const text = last(parsed, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || !Number.isSafeInteger(value)) {
    throw new UsageError(`${flag} needs a whole number of at least ${min}; got ${JSON.stringify(text)}`);
  }
  return value;
}

/** tcpdump's -C: millions of bytes, or with a suffix k, m or g: KiB, MiB, GiB. */
export function sizeArg(parsed: Parsed, name: string, flag: string): number | undefined {
  const text = last(parsed, name);
  if (text === undefined) return undefined;
  const m = /^(\d+)([kmg]?)$/i.exec(text);
  const unit = { '': 1_000_000, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g'];
  const value = m ? Number(m[1]) * unit : NaN;
  if (!m || value < 1 || !Number.isSafeInteger(value)) {
    throw new UsageError(`${flag} needs a size in millions of bytes, or with k, m or g; got ${JSON.stringify(text)}`);
  }
  return value;
}
