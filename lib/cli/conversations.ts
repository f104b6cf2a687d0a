/**
 * `tapwire flows`, `tapwire http`, `tapwire dns`: the conversation layer
 * (tapwire/conversations) over the capture flags, a line a person reads at a glance
 * per result, or one JSON object per line (--json).
 */
import type { Flow } from '../conversations/flow';
import { flows } from '../conversations/flows';
import { dnsMessages, type DnsExchange } from '../conversations/dns';
import { httpExchanges } from '../conversations/http';
import type { HttpExchange } from '../conversations/http-exchange';
import { bytesOf, clockOf, durationOf, runSource, sourceCommand, SOURCE_USAGE } from './conversation-source';

export const FLOWS_USAGE = `usage: tapwire flows ${SOURCE_USAGE}`;
export const HTTP_USAGE = `usage: tapwire http ${SOURCE_USAGE}`;
export const DNS_USAGE = `usage: tapwire dns ${SOURCE_USAGE}`;

function who(pid: number | null, comm: string | null): string {
  return pid === null ? '' : `${pid} (${comm ?? '?'}) `;
}

function endpoint(address: string | null, port: number | null): string {
  if (address === null) return '?';
  return `${address.includes(':') ? `[${address}]` : address}${port ? `:${port}` : ''}`;
}

export function flowLine(f: Flow): string {
  const p = f.client.process;
  const tls = f.tls ? ` tls ${f.tls.sni ?? '-'} ${f.tls.alpn.join(',') || '-'} ${f.tls.ja4}` : '';
  return (
    `${clockOf(f.first)} ${who(p?.pid ?? null, p?.comm ?? null)}${f.protocol} ${endpoint(f.client.address, f.client.port)} > ${endpoint(f.server.address, f.server.port)} ` +
    `${f.client.packets}/${bytesOf(f.client.bytes)} > < ${f.server.packets}/${bytesOf(f.server.bytes)} ${durationOf(f.last - f.first)} ${f.end}${tls}`
  );
}

export function flowJson(f: Flow): object {
  return f;
}

export function httpLine(ex: HttpExchange): string {
  const status = ex.status ?? (ex.incomplete ? `(${ex.incomplete})` : '-');
  const grpc = ex.grpc ? ` grpc-status ${ex.grpc.status ?? '-'}` : '';
  return `${clockOf(ex.time.request)} ${who(ex.client.pid, ex.client.comm)}${ex.method} ${ex.url} ${status}${grpc} ${durationOf(ex.latency)} ${ex.protocol}`;
}

/** The exchange without the stream it came on (which holds the flow: see `tapwire flows`). */
export function httpJson(ex: HttpExchange): object {
  const { stream, request, response, ...rest } = ex;
  const body = (m: HttpExchange['request'] | null): object | null => (m === null ? null : { ...m, body: m.body?.toString('base64') });
  return { ...rest, stream: stream.id, request: body(request), response: body(response) };
}

export function dnsLine(d: DnsExchange): string {
  const q = d.question ? `${d.question.type} ${d.question.name}` : '?';
  const answer = d.unanswered ? '(no response)' : `${d.rcode ?? '-'} ${d.answers.map((a) => a.data).join(',') || '-'}`;
  return `${clockOf(d.time.query ?? d.time.response ?? 0)} ${who(d.client.pid, d.client.comm)}${d.transport} ${q} ${answer} ${durationOf(d.latency)}`;
}

export function dnsJson(d: DnsExchange): object {
  const { flow, ...rest } = d;
  return { ...rest, flow: flow.id };
}

async function command<T>(
  argv: readonly string[],
  usage: string,
  produce: Parameters<typeof runSource<T>>[1],
  line: (t: T) => string,
  json: (t: T) => object,
): Promise<number> {
  const cmd = sourceCommand(argv);
  if (cmd.help) {
    process.stdout.write(`${usage}\n`);
    return 0;
  }
  return runSource(cmd, produce, line, json);
}

export function flowsCommand(argv: readonly string[]): Promise<number> {
  return command<Flow>(argv, FLOWS_USAGE, (source) => flows(source), flowLine, flowJson);
}

export function httpCommand(argv: readonly string[]): Promise<number> {
  return command<HttpExchange>(argv, HTTP_USAGE, (source) => httpExchanges(source), httpLine, httpJson);
}

export function dnsCommand(argv: readonly string[]): Promise<number> {
  return command<DnsExchange>(argv, DNS_USAGE, (source) => dnsMessages(source), dnsLine, dnsJson);
}
