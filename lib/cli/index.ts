/**
 * The `tapwire` command (bin/tapwire.js runs main()). The library never imports this
 * folder. Exit codes: 0 success, 1 runtime error, 2 usage error (bad flags, options
 * or filter); every error is printed with its code.
 */
import { UsageError } from './args';
import { capture, CAPTURE_USAGE } from './capture';
import { PROBE_USAGE, probeCommand } from './probe';

const USAGE = `usage: tapwire <command> [flags]

commands:
  probe     what this kernel and process can do, the backend 'auto' would choose and why
  capture   capture packets (tcpdump's flags), to a pcapng or pcap file or as text

${PROBE_USAGE}
${CAPTURE_USAGE}`;

/** Codes that mean the command line asked for something that cannot be. */
const USAGE_CODES = new Set(['ERR_USAGE', 'ERR_INVALID_OPTION', 'ERR_BAD_FILTER']);

async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case 'probe':
      return probeCommand(rest);
    case 'capture':
      return capture(rest);
    case 'help':
    case '-h':
    case '--help':
      process.stdout.write(`${USAGE}\n`);
      return 0;
    case undefined:
      throw new UsageError('a command is needed');
    default:
      throw new UsageError(`unknown command ${JSON.stringify(name)}`);
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    const e = err as Error & { code?: unknown };
    const code = typeof e.code === 'string' ? e.code : 'ERR_INTERNAL';
    process.stderr.write(`tapwire: ${code}: ${e.message}\n`);
    if (err instanceof UsageError) process.stderr.write(`${USAGE}\n`);
    return USAGE_CODES.has(code) ? 2 : 1;
  }
}
