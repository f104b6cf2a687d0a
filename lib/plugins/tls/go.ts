/**
 * Go's crypto/tls: where to hook a Go binary. Go links its TLS in and calls its own
 * functions with its own register ABI (Go 1.17+), so the hooks are uprobes by file
 * offset, each on an instruction the kernel emulates rather than single-steps (a
 * debug trap per call, which costs tens of microseconds in a virtual machine): the
 * branch of the stack check that opens (*Conn).Read and (*Conn).Write, where the
 * arguments are still in their registers, and the one call to runtime.memmove in Read,
 * its bytes.Reader's copy out of the decrypted record (no return probe: a uretprobe
 * rewrites a return address on a stack Go may move, and kills the process). Close is
 * hooked at its entry; (*Config).writeKeyLog, for the secrets, at its stack check.
 * Functions are found in the pc-line table, which stripped binaries (-ldflags='-s -w')
 * keep.
 */
import { ElfFile, EM_AARCH64, EM_X86_64 } from './elf';
import { labelAddresses } from './labels';
import { eachInstruction } from './x86';

/** What native/tls attaches for one Go binary. */
export interface GoHook {
  name: string;
  /** Virtual address of the instruction probed, as the binary links it. */
  address: number;
  /** Its file offset, where the uprobe is attached. */
  offset: number;
  program: 'read' | 'copy' | 'write' | 'close' | 'keylog';
}

export interface GoBinary {
  /** The toolchain that built it, e.g. "go1.19.8". */
  version: string;
  /** Offset of poll.FD's pollDesc within net's netFD: Go 1.21 put SysFile before it. */
  pollDescOffset: number;
  hooks: GoHook[];
  /** Where each key log label's bytes are in the binary (link-time addresses): a label a uprobe could not read is named by its address. */
  labels: Map<number, string>;
}

const READ = 'crypto/tls.(*Conn).Read';
const WRITE = 'crypto/tls.(*Conn).Write';
const CLOSE = 'crypto/tls.(*Conn).Close';
const MEMMOVE = 'runtime.memmove';
const KEYLOG = 'crypto/tls.(*Config).writeKeyLog';

/** Whether `elf` was built by Go: it has Go's build-information section. */
export function isGo(elf: ElfFile): boolean {
  return elf.sections.has('.go.buildinfo');
}

/** The toolchain version Go 1.18+ writes inline in .go.buildinfo, or null. */
function versionOf(elf: ElfFile): string | null {
  const s = elf.sections.get('.go.buildinfo');
  if (!s || s.size < 33) return null;
  const head = elf.read(s.offset, Math.min(s.size, 64 + 32));
  if (head.toString('latin1', 0, 14) !== '\xff Go buildinf:' || (head[15]! & 2) === 0) return null;
  let length = 0;
  let at = 32;
  for (let shift = 0; at < head.length; shift += 7) {
    const b = head[at++]!;
    length |= (b & 0x7f) << shift;
    if (b < 0x80) break;
  }
  return head.toString('latin1', at, Math.min(at + length, head.length));
}

/** Functions' start and end addresses by name, for `names`, from Go 1.18+'s pc-line table. */
function functions(elf: ElfFile, names: string[]): Map<string, { start: number; end: number }> {
  // A position-independent build keeps the table among its relocated read-only data.
  const tab = elf.section('.gopclntab') ?? elf.section('.data.rel.ro.gopclntab');
  if (!tab) throw new Error('has no .gopclntab section');
  const magic = tab.readUInt32LE(0);
  if (magic !== 0xfffffff0 && magic !== 0xfffffff1) throw new Error('was built by Go before 1.18, which tapwire does not read');
  if (tab[7] !== 8) throw new Error('is not a 64-bit Go binary');
  const word = (at: number): number => Number(tab.readBigUInt64LE(at));
  const nfunc = word(8);
  // A position-independent binary has its text start filled by a relocation at load;
  // the .text section gives it then.
  const textStart = word(24) || (elf.sections.get('.text')?.addr ?? 0);
  const funcNames = word(32);
  const functab = word(64);
  const wanted = new Set(names);
  const found = new Map<string, { start: number; end: number }>();
  for (let i = 0; i < nfunc && found.size < wanted.size; i++) {
    const entry = functab + i * 8;
    const func = functab + tab.readUInt32LE(entry + 4);
    const nameAt = funcNames + tab.readInt32LE(func + 4);
    const name = tab.toString('latin1', nameAt, tab.indexOf(0, nameAt));
    if (!wanted.has(name)) continue;
    // The table is sorted by address and ends with the end of the last function.
    found.set(name, { start: textStart + tab.readUInt32LE(entry), end: textStart + tab.readUInt32LE(entry + 8) });
  }
  return found;
}

interface Branch {
  at: number;
  /** A direct call's destination. */
  target?: number;
  kind: 'stack-check' | 'call' | 'other';
}

/**
 * The control transfers in `code` (which starts at `start`), in order: the stack
 * check's branch (JBE, B.LS), direct calls, and the rest.
 */
function branches(machine: number, code: Buffer, start: number): Branch[] {
  const out: Branch[] = [];
  if (machine === EM_AARCH64) {
    // Fixed-width instructions: B.cond with condition LS, and BL.
    for (let at = 0; at + 4 <= code.length; at += 4) {
      const word = code.readUInt32LE(at);
      // `>>> 0`: JavaScript's & yields a signed 32-bit number.
      const is = (mask: number, value: number): boolean => (word & mask) >>> 0 === value;
      if (is(0xff000010, 0x54000000)) out.push({ at: start + at, kind: (word & 0xf) === 9 ? 'stack-check' : 'other' });
      else if (is(0xfc000000, 0x94000000)) out.push({ at: start + at, kind: 'call', target: start + at + ((word << 6) >> 4) });
      else if (is(0x7c000000, 0x14000000) || is(0xfe000000, 0xd6000000)) out.push({ at: start + at, kind: 'other' });
    }
    return out;
  }
  eachInstruction(code, start, (instr, iced) => {
    if (instr.flowControl === iced.FlowControl.Next) return;
    const at = Number(instr.ip);
    if (instr.mnemonic === iced.Mnemonic.Jbe) out.push({ at, kind: 'stack-check' });
    else if (instr.flowControl === iced.FlowControl.Call && instr.op0Kind === iced.OpKind.NearBranch64)
      out.push({ at, kind: 'call', target: Number(instr.nearBranchTarget) });
    else out.push({ at, kind: 'other' });
  });
  return out;
}

/**
 * Where to hook the Go binary `elf` (with `keys`, also writeKeyLog, and where its labels
 * are); throws an Error whose message is the reason it cannot be.
 */
export function goHooks(elf: ElfFile, keys: boolean): GoBinary {
  if (!isGo(elf)) throw new Error('is not a Go binary');
  if (elf.machine !== EM_X86_64 && elf.machine !== EM_AARCH64) throw new Error('is a Go binary for an architecture tapwire does not read');
  const version = versionOf(elf);
  const minor = version ? Number(/^go1\.(\d+)/.exec(version)?.[1] ?? NaN) : NaN;
  if (!(minor >= 18)) throw new Error(`was built by ${version ?? 'a Go before 1.18'}, which tapwire does not read`);
  const found = functions(elf, [READ, WRITE, CLOSE, MEMMOVE, KEYLOG]);
  const read = found.get(READ);
  const write = found.get(WRITE);
  const memmove = found.get(MEMMOVE);
  if (!read || !write) throw new Error('is a Go binary without crypto/tls');
  const hooks: GoHook[] = [];
  const at = (name: string, address: number, program: GoHook['program']): void => {
    const offset = elf.fileOffset(address);
    if (offset < 0) throw new Error(`has ${name} outside its loaded segments`);
    hooks.push({ name, address, offset, program });
  };
  const code = (fn: { start: number; end: number }): Branch[] =>
    branches(elf.machine, elf.read(elf.fileOffset(fn.start), fn.end - fn.start), fn.start);
  // The stack check is a function's first branch; one that has none cannot be hooked.
  const stackCheck = (name: string, list: Branch[]): number => {
    if (list[0]?.kind !== 'stack-check') throw new Error(`has no stack check opening ${name}`);
    return list[0].at;
  };
  const readCode = code(read);
  at(READ, stackCheck(READ, readCode), 'read');
  const copies = memmove ? readCode.filter((b) => b.kind === 'call' && b.target === memmove.start) : [];
  if (copies.length !== 1) throw new Error(`has ${copies.length} calls to ${MEMMOVE} in ${READ}, not the one tapwire reads`);
  at(READ, copies[0]!.at, 'copy');
  at(WRITE, stackCheck(WRITE, code(write)), 'write');
  const close = found.get(CLOSE);
  if (close) at(CLOSE, close.start, 'close');
  // Called at each handshake step with the secrets, whatever the program's KeyLogWriter.
  const keylog = keys ? found.get(KEYLOG) : undefined;
  if (keylog) at(KEYLOG, stackCheck(KEYLOG, code(keylog)), 'keylog');
  return {
    version: version!,
    pollDescOffset: minor >= 21 ? 32 : 24,
    hooks,
    labels: keylog ? labelAddresses(elf) : new Map<number, string>(),
  };
}
