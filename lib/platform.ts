/**
 * Platforms the package has no prebuilt addon for (musl libc such as Alpine's, or another
 * architecture): one sentence that says what to do, instead of node-gyp-build's "No
 * native build was found" and its stack. Said at install, where the install script runs
 * this file before any build step (`node dist/platform.js`: exits 1 with the sentence
 * where no build can work), and when the package is required (lib/native.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import nodeGypBuild from 'node-gyp-build';
import { TapwireError } from './errors';

const PACKAGE = path.join(__dirname, '..');

/**
 * The C library this node runs on. node-gyp-build picks a prebuild by the LIBC variable
 * or /etc/alpine-release; Node's own report has no glibc version on musl.
 */
export function libc(): 'glibc' | 'musl' {
  if (process.env.LIBC === 'musl' || fs.existsSync('/etc/alpine-release')) return 'musl';
  const { header } = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
  return header.glibcVersionRuntime ? 'glibc' : 'musl';
}

/** The prebuilds this copy of the package holds, e.g. "linux-x64 (glibc)". */
function prebuilt(): string[] {
  let dirs: string[];
  try {
    dirs = fs.readdirSync(path.join(PACKAGE, 'prebuilds'));
  } catch {
    return [];
  }
  return dirs.flatMap((dir) => {
    const tags = fs.readdirSync(path.join(PACKAGE, 'prebuilds', dir)).map((f) => /\.(glibc|musl)\.node$/.exec(f)?.[1] ?? 'any libc');
    return tags.map((tag) => `${dir} (${tag})`);
  });
}

/** Whether `command` is on PATH. */
function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && fs.existsSync(path.join(dir, command)));
}

function here(): string {
  return `linux-${process.arch} with ${libc()}`;
}

function shipped(): string {
  const list = prebuilt().sort();
  if (list.length === 0) return 'this copy of the package holds no prebuilt addon';
  return list.length === 1
    ? `the package's prebuilt addon is for ${list[0]}`
    : `the package's prebuilt addons are for ${list.join(' and ')}`;
}

/**
 * Why no addon can be built on this platform, or undefined where a source build can be
 * tried (scripts/build-requirements.sh then names any system package it lacks). The
 * source build makes libbpf, libpcap, libelf and zlib from Debian's or Ubuntu's own
 * source packages (scripts/static-deps.sh), so it needs glibc and apt.
 */
export function cannotBuild(): string | undefined {
  if (libc() === 'musl') {
    const major = process.versions.node.split('.')[0];
    return (
      `tapwire does not run on musl libc (Alpine Linux): ${shipped()}, and building it from source needs glibc and Debian's or Ubuntu's apt; ` +
      `use a glibc-based image such as node:${major}-slim (Debian).`
    );
  }
  if (!onPath('apt-get')) {
    return (
      `tapwire has no addon for ${here()}: ${shipped()}, and building it from source needs Debian's or Ubuntu's apt ` +
      '(it builds libbpf, libpcap, libelf and zlib from their source packages).'
    );
  }
  return undefined;
}

/**
 * Run when the package is required: where node-gyp-build finds no addon that fits this
 * platform, throws ERR_UNSUPPORTED_PLATFORM with the one sentence (node-gyp-build's own
 * message, with its tags, is not what a user can act on).
 */
export function assertAddon(dir: string): void {
  try {
    nodeGypBuild.path?.(dir);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('No native build was found')) throw err;
    const why =
      cannotBuild() ??
      `tapwire has no addon for ${here()}: ${shipped()}, and none was compiled at install; run \`npm rebuild tapwire\` to compile it (it names any system package the build needs).`;
    throw new TapwireError('ERR_UNSUPPORTED_PLATFORM', why);
  }
}

// The install script's check, before node-gyp-build compiles anything.
if (require.main === module) {
  const why = cannotBuild();
  if (why) {
    process.stderr.write(`${why}\n`);
    process.exitCode = 1;
  }
}
