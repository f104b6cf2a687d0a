/**
 * Filters: pcap-filter(7) compiled by libpcap to classic BPF for the link type of the
 * interface, with libpcap's messages for bad expressions. The accept value is the
 * snaplen, which is how the kernel learns how much of a packet to keep. An expression
 * is compiled once per link type a capture needs, on libuv's thread pool: libpcap's
 * optimizer can take minutes on a large one, and the event loop goes on meanwhile.
 */
import { BadFilterError, TapwireError } from './errors';
import { ARPHRD_ETHER, ARPHRD_LOOPBACK, DLT_EN10MB, DLT_RAW, linkOf, RAW_IP_HARDWARE } from './link';
import { native } from './native';

const BPF_MAXINSNS = 4096;
/** Characters of an expression, and of libpcap's message about it, an error quotes. */
const QUOTED_CHARS = 200;

// Classic BPF encodings used to build the dispatch for 'any' (linux/filter.h).
const BPF_LD_W_ABS = 0x20;
const BPF_JMP_JEQ_K = 0x15;
const BPF_JMP_JA = 0x05;
const BPF_RET_K = 0x06;
const SKF_AD_PKTTYPE = 0xfffff000 + 4;
const SKF_AD_HATYPE = 0xfffff000 + 28;
const PACKET_OUTGOING = 4;

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

/** The DLTs a socket that sees every interface needs programs for. */
export const ANY_INTERFACE_DLTS = [DLT_EN10MB, DLT_RAW];

/** The DLTs of the interfaces of these hardware types that libpcap can filter. */
export function dltsOf(hardwareTypes: Iterable<number>): number[] {
  const dlts = new Set<number>();
  for (const type of hardwareTypes) {
    const dlt = linkOf(type)?.dlt;
    if (dlt !== undefined) dlts.add(dlt);
  }
  return [...dlts];
}

/** Why a filter cannot apply to interfaces of this hardware type (ARPHRD_*): libpcap has no link type for it. */
export function unfilterable(hardwareType: number): string {
  return `filters are not supported on this interface's link type (ARPHRD ${hardwareType})`;
}

/**
 * A link of a capture file, as the file records it: libpcap compiles for a file's link
 * otherwise than for a live one (it maps LINKTYPE_ to DLT_, and reads DLT_NULL's
 * address family in the file's byte order), and tapwire lets libpcap do exactly that.
 */
export interface FileLink {
  /** The LINKTYPE_ the file records. */
  linkType: number;
  /** Whether the file (or its section) is in the other byte order from this host's. */
  swapped: boolean;
}

/** What a program is compiled for: a live link's DLT_, or a file's link. */
export type FilterLink = number | FileLink;

function keyOf(link: FilterLink): number | string {
  return typeof link === 'number' ? link : `file ${link.linkType}${link.swapped ? ' swapped' : ''}`;
}

/** One expression's programs, by link: compiled once each, off the event loop. */
export class FilterPrograms {
  readonly expression: string;
  readonly snaplen: number;
  /** What libpcap made of the expression for each link: a program, or why not. */
  readonly #programs = new Map<number | string, Buffer | BadFilterError>();

  private constructor(expression: string, snaplen: number) {
    this.expression = expression;
    this.snaplen = snaplen;
  }

  static async compile(expression: string, snaplen: number, links: Iterable<FilterLink>): Promise<FilterPrograms> {
    const programs = new FilterPrograms(expression, snaplen);
    await programs.add(links);
    return programs;
  }

  /** Compiles for the links not compiled yet; a refusal is kept, and thrown where the program is asked for. */
  async add(links: Iterable<FilterLink>): Promise<void> {
    if (this.expression === '') return;
    const missing = new Map<number | string, FilterLink>();
    for (const link of links) if (!this.#programs.has(keyOf(link))) missing.set(keyOf(link), link);
    await Promise.all(
      [...missing].map(async ([key, link]) => {
        try {
          const program =
            typeof link === 'number'
              ? await native().compileFilter(this.expression, link, this.snaplen)
              : await native().compileFilter(this.expression, link.linkType, this.snaplen, link.swapped);
          this.#programs.set(key, program);
        } catch (err) {
          this.#programs.set(key, new BadFilterError(`bad filter ${quoteFilter(this.expression)}: ${bounded((err as Error).message)}`));
        }
      }),
    );
  }

  /** Whether the expression compiled for `link` (always, when there is no expression). */
  compiles(link: FilterLink): boolean {
    return this.expression === '' || this.#programs.get(keyOf(link)) instanceof Buffer;
  }

  /** Throws libpcap's refusal for the first of `links`, unless the expression compiles for one of them. */
  requireAny(links: readonly FilterLink[]): void {
    if (!links.some((link) => this.compiles(link))) this.forLink(links[0]!);
  }

  /** The program for packets of `link`; throws libpcap's refusal. */
  forLink(link: FilterLink): Buffer {
    if (this.expression === '') return insn(BPF_RET_K, 0, 0, this.snaplen);
    const program = this.#programs.get(keyOf(link));
    if (program === undefined) throw new TapwireError('ERR_SYSTEM', `the filter was not compiled for ${keyOf(link)}`);
    if (program instanceof BadFilterError) throw program;
    return program;
  }

  /** A program for one interface, given its hardware type. */
  forInterface(hardwareType: number): Buffer {
    if (this.expression === '') return this.forLink(DLT_EN10MB);
    const dlt = linkOf(hardwareType)?.dlt;
    if (dlt === undefined) throw new BadFilterError(`${unfilterable(hardwareType)}; capture it without a filter`);
    return this.forLink(dlt);
  }

  /**
   * A program for a socket that sees every interface: the kernel tells the program each
   * frame's hardware type, which picks the Ethernet or the raw-IP compilation of the
   * same expression. Frames of other link types cannot be matched and are not captured.
   */
  forAnyInterface(): Buffer {
    if (this.expression === '') return this.forLink(DLT_EN10MB);
    const ethernet = this.forLink(DLT_EN10MB);
    const rawIp = this.forLink(DLT_RAW);
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
}

/**
 * `program`, for a packet socket, passing by what this host sends on loopback, where
 * each frame sent is received again (lib/link.ts, echoesSends): on a socket bound to
 * loopback (`on: 'loopback'`), or on one that sees every interface (`on: 'any'`).
 */
export function withoutLoopbackSends(program: Buffer, on: 'loopback' | 'any'): Buffer {
  const prefix =
    on === 'loopback'
      ? // ld pkttype; jeq outgoing → ret 0
        [insn(BPF_LD_W_ABS, 0, 0, SKF_AD_PKTTYPE), insn(BPF_JMP_JEQ_K, 0, 1, PACKET_OUTGOING), insn(BPF_RET_K, 0, 0, 0)]
      : // ld pkttype; jeq outgoing, else skip; ld hatype; jeq loopback → ret 0
        [
          insn(BPF_LD_W_ABS, 0, 0, SKF_AD_PKTTYPE),
          insn(BPF_JMP_JEQ_K, 0, 3, PACKET_OUTGOING),
          insn(BPF_LD_W_ABS, 0, 0, SKF_AD_HATYPE),
          insn(BPF_JMP_JEQ_K, 0, 1, ARPHRD_LOOPBACK),
          insn(BPF_RET_K, 0, 0, 0),
        ];
  return Buffer.concat([...prefix, program]);
}

/**
 * The kernel's classic BPF checker (SO_ATTACH_FILTER) refuses `program` when it is too
 * long, or jumps backwards: the error that says which, before asking it.
 */
export function classicRefusal(expression: string, program: Buffer): BadFilterError | undefined {
  const count = program.length / 8;
  const cannot = `the kernel cannot run the filter ${quoteFilter(expression)}`;
  // The eBPF backend may run a long program.
  if (count > BPF_MAXINSNS)
    return new BadFilterError(`${cannot}: it compiles to ${count} instructions, and at most ${BPF_MAXINSNS} are taken`, 'kernel');
  for (let pc = 0; pc < count; pc++) {
    // k wraps around: libpcap's protochain loops back this way, and no backend runs a loop.
    if (program.readUInt16LE(pc * 8) === BPF_JMP_JA && (pc + 1 + program.readUInt32LE(pc * 8 + 4)) % 2 ** 32 <= pc) {
      return new BadFilterError(`${cannot}: it jumps backwards (a loop, as protochain makes)`);
    }
  }
  return undefined;
}

/** Runs `program` over a packet in user space: the bytes to keep, 0 if it rejects the packet. */
export function matchFilter(program: Buffer, packet: Buffer, wireLength: number): number {
  return native().matchFilter(program, packet, wireLength);
}
