/**
 * What the conversation functions read: a live or replayed Capturer, a captureCommand()
 * result, or any async iterable of batches; TLS plaintext from the capturer's TLS
 * plugin (`cap.tls`) or a TlsPlugin given on its own.
 */
import type { Batch } from '../batch';
import type { Capturer } from '../capturer';
import type { CommandCapture } from '../command';
import type { TlsEvent } from '../plugins/tls';

export type PacketSource = Capturer | CommandCapture | AsyncIterable<Batch>;

function isCommand(source: PacketSource): source is CommandCapture {
  return typeof source === 'object' && source !== null && 'capturer' in source && 'child' in source;
}

/** The batches of `source`. */
export function batchesOf(source: PacketSource): AsyncIterable<Batch> {
  return isCommand(source) ? source.capturer : source;
}

/** The TLS plaintext events that come with `source`, or null when it has none. */
export function tlsEventsOf(source: PacketSource | AsyncIterable<TlsEvent>): AsyncIterable<TlsEvent> | null {
  const cap = isCommand(source as PacketSource) ? (source as CommandCapture).capturer : source;
  const tls = (cap as { tls?: AsyncIterable<TlsEvent> }).tls;
  return tls ?? null;
}
