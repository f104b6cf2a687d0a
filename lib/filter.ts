/**
 * Filters: pcap-filter(7) compiled by libpcap to classic BPF for the link type of the
 * interface, with libpcap's messages for bad expressions. The accept value is the
 * snaplen, which is how the kernel learns how much of a packet to keep.
 */
import { BadFilterError } from './errors';
import { ARPHRD_ETHER, ARPHRD_LOOPBACK, DLT_EN10MB, DLT_RAW, dltOfLinkType, linkOf, RAW_IP_HARDWARE } from './link';
import { native } from './native';

const BPF_MAXINSNS = 4096;
/** Characters of an expression, and of libpcap's message about it, an error quotes. */
const QUOTED_CHARS = 200;

// Classic BPF encodings used to build the dispatch for 'any' (linux/filter.h).
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JA = 0x05;
const BPF_RET_K = 0x06;
const SKF_AD_HATYPE = 0xfffff000 + 28;

function insn(code: number, jt: number, jf: number, k: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16LE(code, 0);
  b.writeUInt8(jt, 2);
  b.writeUInt8(jf, 3);
  b.writeUInt32LE(k >>> 0, 4);
  return b;
}

function bounded(text: string): string {
  return text.length <= QUOTED_CHARS ? text : `${text.slice(0, QUOTED_CHARS)}…`;
}

/** The expression as an error quotes it: whole when short, else its start and its length. */
export function quoteFilter(expression: string): string {
  if (expression.length <= QUOTED_CHARS) return JSON.stringify(expression);
  return `${JSON.stringify(expression.slice(0, QUOTED_CHARS))}… (${expression.length} characters)`;
}

function compile(expression: string, dlt: number, snaplen: number): Buffer {
  try {
    return native().compileFilter(expression, dlt, snaplen);
  } catch (err) {
    throw new BadFilterError(`bad filter ${quoteFilter(expression)}: ${bounded((err as Error).message)}`);
  }
}

/**
 * The kernel's classic BPF checker (SO_ATTACH_FILTER) refuses `program` when it is too
 * long, or jumps backwards: the error that says which, before asking it.
 */
export function classicRefusal(expression: string, program: Buffer): BadFilterError | undefined {
  const count = program.length / 8;
  const cannot = `the kernel cannot run the filter ${quoteFilter(expression)}`;
  // The eBPF backend may run a long program.
  if (count > BPF_MAXINSNS) return new BadFilterError(`${cannot}: it compiles to ${count} instructions, and at most ${BPF_MAXINSNS} are taken`, 'kernel');
  for (let pc = 0; pc < count; pc++) {
    // k wraps around: libpcap's protochain loops back this way, and no backend runs a loop.
    if (program.readUInt16LE(pc * 8) === BPF_JMP_JA && (pc + 1 + program.readUInt32LE(pc * 8 + 4)) % 2 ** 32 <= pc) {
      return new BadFilterError(`${cannot}: it jumps backwards (a loop, as protochain makes)`);
    }
  }
  return undefined;
}

/** A program for one interface, given its hardware type. */
export function filterForInterface(expression: string, hardwareType: number, snaplen: number): Buffer {
  if (expression === '') return insn(BPF_RET_K, 0, 0, snaplen);
  const dlt = linkOf(hardwareType)?.dlt;
  if (dlt === undefined) {
    throw new BadFilterError(
      `filters are not supported on this interface's link type (ARPHRD ${hardwareType}); capture it without a filter`,
    );
  }
  return compile(expression, dlt, snaplen);
}

/** A program for packets of a pcap link type (a file's interface). */
export function filterForLinkType(expression: string, linkType: number, snaplen: number): Buffer {
  if (expression === '') return insn(BPF_RET_K, 0, 0, snaplen);
  return compile(expression, dltOfLinkType(linkType), snaplen);
}

/** Runs `program` over a packet in user space: the bytes to keep, 0 if it rejects the packet. */
export function matchFilter(program: Buffer, packet: Buffer, wireLength: number): number {
  return native().matchFilter(program, packet, wireLength);
}

/**
 * A program for a socket that sees every interface: the kernel tells the program each
 * frame's hardware type, which picks the Ethernet or the raw-IP compilation of the
 * same expression. Frames of other link types cannot be matched and are not captured.
 */
export function filterForAnyInterface(expression: string, snaplen: number): Buffer {
  if (expression === '') return insn(BPF_RET_K, 0, 0, snaplen);
  const ethernet = compile(expression, DLT_EN10MB, snaplen);
  const rawIp = compile(expression, DLT_RAW, snaplen);
  // ld hatype; one jeq per known type; ret 0; ja ethernet; ja raw-ip; ethernet; raw-ip.
  // (Conditional jumps reach 255 instructions at most, so each lands on a `ja`.)
  const tests = [ARPHRD_ETHER, ARPHRD_LOOPBACK, ...RAW_IP_HARDWARE];
  const jaEthernet = tests.length + 1; // position counted from the first test
  const dispatch: Buffer[] = [insn(BPF_LD_W_ABS, 0, 0, SKF_AD_HATYPE)];
  tests.forEach((type, i) => {
    const target = i < 2 ? jaEthernet : jaEthernet + 1;
    dispatch.push(insn(BPF_JMP_JEQ_K, target - i - 1, 0, type));
  });
  dispatch.push(insn(BPF_RET_K, 0, 0, 0));
  dispatch.push(insn(BPF_JMP_JA, 0, 0, 1));
  dispatch.push(insn(BPF_JMP_JA, 0, 0, ethernet.length / 8));
  return Buffer.concat([...dispatch, ethernet, rawIp]);
}
