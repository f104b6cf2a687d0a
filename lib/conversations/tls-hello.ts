/**
 * The TLS ClientHello a client sends first: server name (SNI), ALPN protocols and the
 * JA4 fingerprint (FoxIO's JA4 specification: technical_details/JA4.md of
 * github.com/FoxIO-LLC/ja4), read from the handshake bytes of the first TLS records.
 */
import { createHash } from 'node:crypto';

export interface ClientHello {
  /** The highest version offered: supported_versions' highest, else the hello's own ('1.3', '1.2', ...). */
  version: string;
  /** The server name asked for (SNI), or null. */
  sni: string | null;
  /** ALPN protocols in the client's order ('h2', 'http/1.1'). */
  alpn: string[];
  /** The JA4 fingerprint, e.g. t13d1516h2_8daaf6152771_e5627efa2ab1. */
  ja4: string;
}

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SNI = 0x0000;
const EXT_ALPN = 0x0010;
const EXT_SIGNATURE_ALGORITHMS = 0x000d;
const EXT_SUPPORTED_VERSIONS = 0x002b;
/** A ClientHello longer than this is not waited for (TLS allows 16 MiB; real ones are under 4 KiB). */
export const MAX_HELLO_BYTES = 16 * 1024;

/** GREASE values (RFC 8701): 0x?a?a with both bytes equal. */
function grease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

const VERSIONS: Record<number, [string, string]> = {
  0x0304: ['1.3', '13'],
  0x0303: ['1.2', '12'],
  0x0302: ['1.1', '11'],
  0x0301: ['1.0', '10'],
  0x0300: ['ssl3', 's3'],
  0x0200: ['ssl2', 's2'],
  0x0100: ['ssl1', 's1'],
};

const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const hash12 = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);
const two = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');

function alnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** JA4's two ALPN characters: the first value's first and last, in hex where either is not alphanumeric. */
function alpnChars(first: Uint8Array | undefined): string {
  if (!first || first.length === 0) return '00';
  const a = first[0]!;
  const z = first[first.length - 1]!;
  if (alnum(a) && alnum(z)) return String.fromCharCode(a, z);
  const hex = Buffer.from(first).toString('hex');
  return hex[0]! + hex[hex.length - 1]!;
}

/**
 * Collects the client's first bytes (TLS records) and reads the ClientHello from them.
 * `push` takes the next in-order bytes; it answers 'more' while the hello is incomplete,
 * then the hello, or null when the bytes are not a ClientHello (or one too large).
 */
export class ClientHelloReader {
  #records: Uint8Array = new Uint8Array(0);
  #done = false;

  push(bytes: Uint8Array): ClientHello | null | 'more' {
    if (this.#done) return null;
    const joined = new Uint8Array(this.#records.length + bytes.length);
    joined.set(this.#records);
    joined.set(bytes, this.#records.length);
    this.#records = joined;
    const result = readHello(joined);
    if (result !== 'more' || joined.length > MAX_HELLO_BYTES + 5 * 4) {
      this.#done = true;
      this.#records = new Uint8Array(0);
      return result === 'more' ? null : result;
    }
    return 'more';
  }
}

/** The handshake message from whole records at the start of `data`, or 'more', or null. */
function readHello(data: Uint8Array): ClientHello | null | 'more' {
  if (data.length >= 1 && data[0] !== HANDSHAKE) return null;
  // The hello may span records: join their payloads until its length is there.
  const parts: Uint8Array[] = [];
  let have = 0;
  let at = 0;
  for (;;) {
    if (at + 5 > data.length) return 'more';
    if (data[at] !== HANDSHAKE) return null;
    const length = (data[at + 3]! << 8) | data[at + 4]!;
    if (at + 5 + length > data.length) return 'more';
    parts.push(data.subarray(at + 5, at + 5 + length));
    have += length;
    at += 5 + length;
    if (have >= 4) {
      const first = parts[0]!.length >= 4 ? parts[0]! : Buffer.concat(parts);
      if (first[0] !== CLIENT_HELLO) return null;
      const total = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
      if (total > MAX_HELLO_BYTES) return null;
      if (have >= total) return parseHello(Buffer.concat(parts).subarray(4, total));
    }
  }
}

/** The ClientHello body (after the 4-byte handshake header); null when it does not parse. */
export function parseHello(b: Uint8Array): ClientHello | null {
  const u16 = (at: number): number => (b[at]! << 8) | b[at + 1]!;
  let at = 0;
  if (b.length < 2 + 32 + 1) return null;
  const legacyVersion = u16(0);
  at = 34;
  at += 1 + b[at]!; // session id
  if (at + 2 > b.length) return null;
  const cipherBytes = u16(at);
  at += 2;
  if (at + cipherBytes > b.length || cipherBytes % 2) return null;
  const ciphers: number[] = [];
  for (let i = 0; i < cipherBytes; i += 2) {
    const c = u16(at + i);
    if (!grease(c)) ciphers.push(c);
  }
  at += cipherBytes;
  if (at + 1 > b.length) return null;
  at += 1 + b[at]!; // compression methods
  const extensions: number[] = [];
  let sni: string | null = null;
  let alpn: Uint8Array[] = [];
  let signatureAlgorithms: number[] = [];
  let highest = -1;
  // No extensions at all is a valid (old) hello.
  if (at + 2 <= b.length) {
    const end = at + 2 + u16(at);
    if (end > b.length) return null;
    at += 2;
    while (at + 4 <= end) {
      const type = u16(at);
      const length = u16(at + 2);
      const body = at + 4;
      if (body + length > end) return null;
      if (!grease(type)) extensions.push(type);
      if (type === EXT_SNI) sni = serverName(b.subarray(body, body + length));
      else if (type === EXT_ALPN) alpn = protocols(b.subarray(body, body + length));
      else if (type === EXT_SIGNATURE_ALGORITHMS && length >= 2) {
        const n = Math.min(u16(body), length - 2);
        signatureAlgorithms = [];
        for (let i = 0; i + 1 < n; i += 2) signatureAlgorithms.push(u16(body + 2 + i));
      } else if (type === EXT_SUPPORTED_VERSIONS && length >= 1) {
        const n = Math.min(b[body]!, length - 1);
        for (let i = 0; i + 1 < n; i += 2) {
          const v = u16(body + 1 + i);
          if (!grease(v) && v > highest) highest = v;
        }
      }
      at = body + length;
    }
  }
  const versionNumber = highest >= 0 ? highest : legacyVersion;
  const [version, ja4Version] = VERSIONS[versionNumber] ?? ['unknown', '00'];
  const sortedCiphers = ciphers.map(hex4).sort().join(',');
  const sortedExtensions = extensions
    .filter((e) => e !== EXT_SNI && e !== EXT_ALPN)
    .map(hex4)
    .sort()
    .join(',');
  const signatures = signatureAlgorithms
    .filter((s) => !grease(s))
    .map(hex4)
    .join(',');
  const a = `t${ja4Version}${extensions.includes(EXT_SNI) ? 'd' : 'i'}${two(ciphers.length)}${two(extensions.length)}${alpnChars(alpn[0])}`;
  const cipherHash = ciphers.length === 0 ? '000000000000' : hash12(sortedCiphers);
  const extensionHash =
    extensions.length === 0 ? '000000000000' : hash12(signatures ? `${sortedExtensions}_${signatures}` : sortedExtensions);
  return { version, sni, alpn: alpn.map((p) => Buffer.from(p).toString('latin1')), ja4: `${a}_${cipherHash}_${extensionHash}` };
}

function serverName(b: Uint8Array): string | null {
  // server_name_list: u16 length, then (type u8, name u16-length-prefixed); type 0 is a host name.
  let at = 2;
  while (at + 3 <= b.length) {
    const length = (b[at + 1]! << 8) | b[at + 2]!;
    if (at + 3 + length > b.length) return null;
    if (b[at] === 0) return Buffer.from(b.subarray(at + 3, at + 3 + length)).toString('latin1');
    at += 3 + length;
  }
  return null;
}

function protocols(b: Uint8Array): Uint8Array[] {
  const list: Uint8Array[] = [];
  let at = 2;
  while (at < b.length) {
    const length = b[at]!;
    if (at + 1 + length > b.length) break;
    list.push(b.subarray(at + 1, at + 1 + length));
    at += 1 + length;
  }
  return list;
}
