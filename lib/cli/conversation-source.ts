/**
 * What `tapwire flows|http|dns` read and how they print: the capture flags (-i, -r, a
 * filter, --tls, --backend, --netns, -- CMD), parsed with the CLI's own parser, and
 * one loop that opens the source, prints each result (a line, or JSON with --json)
 * and ends the way `tapwire capture` does (SIGINT/SIGTERM, a closed stdout, the
 * command's exit code).
 */
import os from 'node:os';
import type { Capturer } from '../capturer';
import { captureCommand, type CommandCapture } from '../command';
import { quoteFilter } from '../filter';
import { openCapturer } from '../open';
import type { CaptureOptions } from '../options';
import { integerArg, last, parseArgs, UsageError } from './args';
import { drained, tlsOption } from './capture';

export const SOURCE_USAGE = `[-P] [-i INTERFACE]... [-r FILE|-] [--tls[=auto|required]] [--backend auto|ebpf|raw-socket]
       [--netns NAME|PATH|PID] [-c COUNT] [--json] [-f FILTER | EXPRESSION] [-- COMMAND [ARGS...]]`;

const SPEC = {
  valued: 'icrf',
  flags: 'hP',
  longValued: ['backend', 'netns'],
  longOptional: ['tls'],
  longFlags: ['json', 'help', 'process'],
};

export interface SourceCommand {
  help: boolean;
  json: boolean;
  count: number;
  options: CaptureOptions;
  run: string[] | undefined;
}

export function sourceCommand(all: readonly string[]): SourceCommand {
  const dash = all.indexOf('--');
  const run = dash < 0 ? undefined : all.slice(dash + 1);
  if (run !== undefined && run.length === 0) throw new UsageError('-- must be followed by the command to run');
  const parsed = parseArgs(dash < 0 ? all : all.slice(0, dash), SPEC);
  const filterFlag = last(parsed, 'f');
  const expression = parsed.positional.join(' ');
  if (filterFlag !== undefined && expression !== '') {
    throw new UsageError(
      `give the filter with -f or as an expression, not both (got -f ${quoteFilter(filterFlag)} and ${quoteFilter(expression)})`,
    );
  }
  const read = last(parsed, 'r');
  const netns = last(parsed, 'netns');
  const options: CaptureOptions = {
    filter: filterFlag ?? expression,
    interfaces: parsed.options.get('i'),
    backend: last(parsed, 'backend') as CaptureOptions['backend'],
    tls: tlsOption(parsed),
    netns: netns !== undefined && /^[0-9]+$/.test(netns) ? Number(netns) : netns,
    // Each end's process: asked for with -P, always for a command's own traffic (its
    // cgroup capture can say); a file says what it recorded.
    attribution: read === undefined && (run !== undefined || parsed.options.has('P') || parsed.options.has('process')) ? true : undefined,
  };
  if (read !== undefined) {
    if (run !== undefined || options.interfaces || options.netns !== undefined || options.tls !== undefined) {
      throw new UsageError('-r reads a file: it cannot be combined with -i, --netns, --tls or -- COMMAND');
    }
    options.file = read === '-' ? '/dev/stdin' : read;
  }
  if (run !== undefined && (options.interfaces || options.netns !== undefined)) {
    throw new UsageError("-- COMMAND captures the command's own traffic: it cannot be combined with -i or --netns");
  }
  return {
    help: parsed.options.has('h') || parsed.options.has('help'),
    json: parsed.options.has('json'),
    count: integerArg(parsed, 'c', '-c', 1) ?? Infinity,
    options,
    run,
  };
}

/**
 * Opens the source, prints `line(item)` (or `json(item)`, one object per line) for each
 * item `produce` yields from it, until the source ends, -c COUNT, a signal or a closed
 * stdout; returns the exit code (the command's own with -- COMMAND).
 */
export async function runSource<T>(
  cmd: SourceCommand,
  produce: (source: Capturer | CommandCapture) => AsyncIterable<T>,
  line: (item: T) => string,
  json: (item: T) => object,
): Promise<number> {
  const { stdout, stderr } = process;
  // The command's own output goes to stderr: stdout carries tapwire's lines alone.
  const running = cmd.run
    ? await captureCommand(cmd.run[0]!, cmd.run.slice(1), { ...cmd.options, spawn: { stdio: ['inherit', 2, 'inherit'] } })
    : null;
  const cap = running ? running.capturer : await openCapturer(cmd.options);
  const stop = (): void => void cap.close();
  const forward = (signal: NodeJS.Signals): void => void running?.child.kill(signal);
  const onSignal = running ? forward : stop;
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  let gone = false;
  const onError = (): void => {
    gone = true;
    stop();
  };
  stdout.on('error', onError);
  // The TLS decision first: "listening" is the last line before results.
  if (cmd.options.tls !== undefined) stderr.write(`tapwire: ${cap.selection.tls.reason}\n`);
  if (cap.selection.backend === 'file') stderr.write(`tapwire: reading from ${cmd.options.file}\n`);
  else
    stderr.write(
      `tapwire: listening on ${running ? `the traffic of ${cmd.run!.join(' ')}` : [cmd.options.interfaces ?? 'every interface'].flat().join(', ')} with the ${cap.backend} backend\n`,
    );
  let printed = 0;
  try {
    for await (const item of produce(running ?? cap)) {
      if (gone) break;
      const text = cmd.json ? JSON.stringify(json(item)) : line(item);
      if (!stdout.write(`${text}\n`)) await drained(stdout);
      if (++printed >= cmd.count) break;
    }
  } finally {
    await cap.close();
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    stdout.off('error', onError);
  }
  const exit = running ? await running.exited : null;
  if (exit) return exit.code ?? 128 + (os.constants.signals[exit.signal!] ?? 0);
  return 0;
}

/** HH:MM:SS.mmm of a capture time (ms since the epoch), local time as tcpdump prints it. */
export function clockOf(ms: number): string {
  const d = new Date(ms);
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

export function durationOf(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 1 ? `${(ms * 1000).toFixed(0)} µs` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function bytesOf(n: number): string {
  return n < 1024 ? `${n} B` : n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
