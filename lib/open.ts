/**
 * openCapturer(): probe, select a backend (TLS plays no part), decide TLS beside it,
 * open the backend. It resolves once the capture is attached and filtering. With
 * `file`, none of that: the file is replayed (lib/replay).
 */
import { Capturer } from './capturer';
import type { Backend } from './backend';
import { openEbpf } from './backends/ebpf';
import { openRawSocket } from './backends/raw-socket';
import { resolveOptions, resolveReplayOptions, type CaptureOptions, type ResolvedOptions } from './options';
import { probe, type ProbeReport } from './probe';
import { openReplay } from './replay';
import { selectBackend, type BackendName } from './selection';
import { tlsPlugin } from './plugins/tls';
import { decideTls } from './tls';
import { TlsUnavailableError } from './errors';

const BACKENDS: Record<BackendName, (options: ResolvedOptions, report: ProbeReport) => Backend> = {
  ebpf: openEbpf,
  'raw-socket': openRawSocket,
};

export async function openCapturer(options: CaptureOptions = {}): Promise<Capturer> {
  const replay = resolveReplayOptions(options);
  const capturer = replay ? await openReplay(replay) : await openLive(resolveOptions(options));
  const signal = options.signal;
  if (signal) {
    const onAbort = (): void => void capturer.close();
    signal.addEventListener('abort', onAbort, { once: true });
    capturer.once('close', () => signal.removeEventListener('abort', onAbort));
  }
  return capturer;
}

async function openLive(resolved: ResolvedOptions): Promise<Capturer> {
  resolved.signal?.throwIfAborted();
  const report = await probe();
  const selection = selectBackend(report, resolved.backend);
  const tls = decideTls(resolved.tls, selection.backend, report);
  resolved.signal?.throwIfAborted();
  const backend = BACKENDS[selection.backend](resolved, report);
  const chosen = backend.attach ? { ...selection, attach: backend.attach } : selection;
  const capturer = new Capturer(backend, { ...chosen, probe: report, tls }, resolved.highWaterMark);
  if (tls.active) {
    // The backend is chosen and capturing: whatever happens to TLS now, it stays.
    try {
      const plugin = tlsPlugin(resolved.tlsOptions);
      capturer.use(plugin);
      capturer.tls = plugin;
      tls.reason = `TLS capture is on: hooked ${plugin.targets.map((t) => t.path).join(', ')}`;
    } catch (err) {
      tls.active = false;
      tls.reason = `TLS capture could not start: ${(err as Error).message}`;
      if (resolved.tls === 'required') {
        await capturer.close();
        throw new TlsUnavailableError(`tls: 'required' cannot be met: ${tls.reason}`);
      }
    }
  }
  return capturer;
}
