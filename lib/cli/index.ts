/**
 * The `tapwire` command (bin/tapwire.js runs main()). The library never imports this
 * folder. Exit codes: 0 success, 1 runtime error, 2 usage error (bad flags, options
 * or filter); every error is printed with its code.
 */
import { UsageError } from './args';
import { capture, CAPTURE_USAGE } from './capture';
import { dnsCommand, DNS_USAGE, flowsCommand, FLOWS_USAGE, httpCommand, HTTP_USAGE } from './conversations';
import { PROBE_USAGE, probeCommand } from './probe';

const USAGE = `usage: tapwire <command> [flags]

commands:
  probe     what this kernel and process can do, the backend 'auto' would choose and why
  capture   capture packets (tcpdump's flags), to a pcapng or pcap file or as text
  flows     one line (or JSON object) per flow: ends, packets and bytes each way, TLS SNI/ALPN/JA4
  http      one line (or JSON object) per HTTP/1.1 or HTTP/2 exchange, TLS plaintext included with --tls
  dns       one line (or JSON object) per DNS query and its answer

${PROBE_USAGE}
${CAPTURE_USAGE}
${FLOWS_USAGE}
${HTTP_USAGE}
${DNS_USAGE}`;

/** Codes that mean the command line asked for something that cannot be. */
const USAGE_CODES = new Set(['ERR_USAGE', 'ERR_INVALID_OPTION', 'ERR_BAD_FILTER']);

async function run(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case 'probe':
      return probeCommand(rest);
    case 'capture':
      return capture(rest);
    case 'flows':
      return flowsCommand(rest);
    case 'http':
      return httpCommand(rest);
    case 'dns':
      return dnsCommand(rest);
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
