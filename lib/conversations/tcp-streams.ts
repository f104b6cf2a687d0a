/** tcpStreams(source): every TCP stream's and TLS connection's bytes, in order, as events. */
import { drive, type ConversationSource, type DriveOptions } from './drive';
import { StreamTable, type Side, type StreamOptions, type TcpStream } from './streams';

export type StreamEvent =
  | { type: 'open'; stream: TcpStream; time: number }
  | { type: 'data'; stream: TcpStream; from: Side; data: Buffer; time: number }
  | { type: 'hole'; stream: TcpStream; from: Side; size: number; time: number }
  | { type: 'close'; stream: TcpStream; time: number };

/**
 * The bytes of each TCP connection of `source` in order, per direction, with holes
 * where the capture missed some, and of each TLS connection where the source has TLS
 * plaintext (`cap.tls`). Data is copied out of the batch (it stays valid).
 */
export async function* tcpStreams(source: ConversationSource, options: StreamOptions & DriveOptions = {}): AsyncGenerator<StreamEvent> {
  const out: StreamEvent[] = [];
  const table = new StreamTable(
    {
      open: (stream, time) => out.push({ type: 'open', stream, time }),
      data: (stream, from, data, time) => out.push({ type: 'data', stream, from, data: Buffer.from(data), time }),
      hole: (stream, from, size, time) => out.push({ type: 'hole', stream, from, size, time }),
      close: (stream, time) => out.push({ type: 'close', stream, time }),
    },
    options,
  );
  yield* drive(source, options, table, out);
}
