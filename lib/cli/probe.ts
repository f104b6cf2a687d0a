/**
 * `tapwire probe [--json]`: every probe result with its reason, the backend 'auto'
 * would choose and why, and whether TLS capture could run here. Exit 1 when no
 * backend can run, so scripts can ask "can this host capture?".
 */
import { TapwireError } from '../errors';
import { probe } from '../probe';
import { selectBackend, type Selection } from '../selection';
import { decideTls, type TlsState } from '../tls';
import { last, parseArgs, UsageError } from './args';

export const PROBE_USAGE = 'usage: tapwire probe [--json]';

export async function probeCommand(argv: readonly string[]): Promise<number> {
  const parsed = parseArgs(argv, { valued: '', flags: 'h', longValued: [], longOptional: [], longFlags: ['json', 'help'] });
  if (parsed.positional.length > 0) throw new UsageError(`probe takes no arguments; got ${JSON.stringify(parsed.positional.join(' '))}`);
  if (parsed.options.has('h') || parsed.options.has('help')) {
    process.stdout.write(`${PROBE_USAGE}\n`);
    return 0;
  }
  const report = await probe();
  let selection: Selection | null = null;
  let failure: TapwireError | null = null;
  try {
    selection = selectBackend(report, 'auto');
  } catch (err) {
    if (!(err instanceof TapwireError)) throw err;
    failure = err;
  }
  const tls: TlsState = selection
    ? decideTls('auto', selection, report)
    : { active: false, reason: 'no capture backend can run here, so neither can TLS capture' };

  if (last(parsed, 'json') !== undefined) {
    const auto = selection ?? { backend: null, error: { code: failure!.code, message: failure!.message } };
    process.stdout.write(`${JSON.stringify({ ...report, auto, tls }, null, 2)}\n`);
    return selection ? 0 : 1;
  }
  const out: string[] = [`kernel ${report.kernelRelease}`, 'capabilities:'];
  for (const [name, held] of Object.entries(report.capabilities)) out.push(`  ${held ? 'yes' : 'no '}  ${name}`);
  out.push('features:');
  const width = Math.max(...Object.keys(report.features).map((n) => n.length));
  for (const [name, f] of Object.entries(report.features)) out.push(`  ${f.ok ? 'ok  ' : 'FAIL'}  ${name.padEnd(width)}  ${f.reason}`);
  if (selection) {
    out.push(`backend 'auto' chooses: ${selection.backend}`);
    for (const reason of selection.reasons) out.push(`  ${reason}`);
  } else {
    out.push(`backend 'auto' chooses nothing (${failure!.code}): ${failure!.message}`);
  }
  out.push(`TLS capture (tls: 'auto'): ${tls.active ? 'on' : 'off'}: ${tls.reason}`);
  process.stdout.write(`${out.join('\n')}\n`);
  return selection ? 0 : 1;
}
