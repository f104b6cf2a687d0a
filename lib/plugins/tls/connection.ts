/**
 * The TCP connection a TLS call went through, as the uprobe read it from the call's
 * socket when the call was made (native/tls/bpf/tls.bpf.c): so it is right for that call
 * even when the connection is gone by the time the event is read.
 */
import { ipv4Text, ipv6Text } from '../../headers/address';
import { TLS_RECORD as R } from './record';

export interface Endpoint {
  address: string;
  port: number;
}

export interface Connection {
  protocol: 'tcp';
  local: Endpoint;
  remote: Endpoint;
}

const AF_INET = 2;
const AF_INET6 = 10;

function address(bytes: Uint8Array, v6: boolean): string {
  if (!v6) return ipv4Text(bytes, 0);
  // An IPv4-mapped address (a dual-stack socket's IPv4 peer) names that peer as the packets carry it.
  const mapped = bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  return mapped ? ipv4Text(bytes, 12) : ipv6Text(bytes, 0);
}

/** The record's connection, or undefined where the call's socket was not a connected TCP socket or not known. */
export function connectionOf(record: DataView): Connection | undefined {
  const family = record.getUint8(R.FAMILY);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const bytes = (at: number): Uint8Array => new Uint8Array(record.buffer, record.byteOffset + at, 16);
  const v6 = family === AF_INET6;
  return {
    protocol: 'tcp',
    local: { address: address(bytes(R.LOCAL_ADDR), v6), port: record.getUint16(R.LOCAL_PORT, true) },
    remote: { address: address(bytes(R.REMOTE_ADDR), v6), port: record.getUint16(R.REMOTE_PORT, true) },
  };
}
