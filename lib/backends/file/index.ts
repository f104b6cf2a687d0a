/**
 * openCapturer({ file }): a capture file through the Capturer interface, so code (and
 * tests) written against live capture run on a recording, without root or a kernel.
 */
import { Capturer } from '../../capturer';
import type { ReplayOptions } from '../../options';
import { FileSource } from './source';

export async function openReplay(options: ReplayOptions): Promise<Capturer> {
  options.signal?.throwIfAborted();
  const source = await FileSource.open(options);
  const selection = {
    backend: 'file' as const,
    reasons: [`replaying ${options.file} (${source.format}): no probe or backend selection takes place`],
    tls: { active: false, reason: 'TLS capture does not apply to a replayed file' },
    file: options.file,
    format: source.format,
  };
  return new Capturer(source, selection, options.highWaterMark);
}
