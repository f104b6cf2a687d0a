/**
 * OpenSSL's one road for plaintext. SSL_read, SSL_read_ex and the read of a BIO_f_ssl
 * BIO (`openssl s_server -www`, applications that stack BIOs) all call the library's
 * internal ssl_read_internal, and the write side ssl_write_internal; the library does
 * not export them. Where a build keeps them out of line (Debian's libssl does), the
 * uprobes go there instead of on the exported functions: BIO_f_ssl callers are seen,
 * and no call costs a second uprobe. They are found by decoding the exported wrappers;
 * a build whose wrappers do not have the expected shape (node's, which inlines them)
 * keeps the exported hooks.
 */
import type { Register } from 'iced-x86';
import { branches, decodeA64 } from './arm64';
import { ElfFile, EM_AARCH64, EM_X86_64 } from './elf';
import { labelAddresses } from './labels';
import { eachInstruction } from './x86';

/** File offsets of the internal read and write functions. */
export interface OpenSslInternals {
  read: number;
  write: number;
}

const ARGUMENTS = ['RDI', 'RSI', 'RDX', 'RCX'] as const;

/** `find` over the ELF file `file` if it is for one of `machines`; null otherwise, or on any error reading it (any doubt: nothing found). */
function onElf<T>(file: string, machines: readonly number[], find: (elf: ElfFile) => T | null): T | null {
  let elf: ElfFile;
  try {
    elf = new ElfFile(file);
  } catch {
    return null;
  }
  try {
    return machines.includes(elf.machine) ? find(elf) : null;
  } catch {
    return null;
  } finally {
    elf.close();
  }
}
const DECODED = 64; // bytes: more than either wrapper needs to reach its call

/**
 * Where `wrapper` (an _ex function taking the internal function's four arguments)
 * hands them on unchanged: its first control transfer must be a direct call or tail
 * jump, with no branch and no write to an argument register before it.
 */
function passedTo(elf: ElfFile, wrapper: number, strict: boolean): number | null {
  let target: number | null = null;
  eachInstruction(elf.read(elf.fileOffset(wrapper), DECODED), wrapper, (instr, iced, writes) => {
    const flow = instr.flowControl;
    const direct = instr.op0Kind === iced.OpKind.NearBranch64;
    if ((flow === iced.FlowControl.Call || flow === iced.FlowControl.UnconditionalBranch) && direct) {
      target = Number(instr.nearBranchTarget);
      return true;
    }
    if (!strict) return false;
    if (flow !== iced.FlowControl.Next) return true;
    const args = new Set<Register>(ARGUMENTS.map((r) => iced.Register[r]));
    return writes().some((r) => args.has(r));
  });
  return target;
}

/**
 * The internal functions of the OpenSSL library `file`, or null when they cannot be
 * told for certain (any doubt keeps the exported hooks, which are never wrong).
 */
export function openSslInternals(file: string): OpenSslInternals | null {
  return onElf(file, [EM_X86_64], (elf) => {
    const f = elf.exported(['SSL_read', 'SSL_read_ex', 'SSL_write', 'SSL_write_ex']);
    const internal = (plain: string, ex: string): number | null => {
      const [a, b] = [f.get(plain), f.get(ex)];
      if (a === undefined || b === undefined) return null;
      // SSL_read converts its int length and its own byte count first: only its call's
      // target is checked, against the one SSL_read_ex passes its arguments to.
      const target = passedTo(elf, b, true);
      return target !== null && target === passedTo(elf, a, false) ? target : null;
    };
    const read = internal('SSL_read', 'SSL_read_ex');
    const write = internal('SSL_write', 'SSL_write_ex');
    if (read === null || write === null || read === write) return null;
    const [r, w] = [elf.fileOffset(read), elf.fileOffset(write)];
    return r < 0 || w < 0 ? null : { read: r, write: w };
  });
}

const LEA_RSI_RIP = Buffer.from([0x48, 0x8d, 0x35]); // lea rsi, [rip + disp32]
const LABEL = 'CLIENT_RANDOM';

/** A function to hook: its address as the file links it, and its file offset. */
interface Found {
  address: number;
  offset: number;
}

/**
 * Finds nss_keylog_int(label, ssl, client_random, random_len, secret, secret_len) in the
 * OpenSSL library `elf` (whose key log labels are at `labels`), or null when it cannot be
 * told for certain. Neither it nor ssl_log_secret(ssl, label, secret, secret_len), its one
 * caller for the secrets, is exported. TLS 1.2's master secret is logged as
 * `ssl_log_secret(s, "CLIENT_RANDOM", ...)`: the call after code that puts that label's
 * address in rsi is ssl_log_secret, which must be a thunk handing its arguments on (label
 * to rdi, secret to r8 and its length to r9, a 32-byte client random) with one direct
 * jump or call: that target is nss_keylog_int. Every such call site must agree. A build
 * that inlines it (node's) gives null.
 */
function keyLogIn(elf: ElfFile, labels: Map<number, string>): Found | null {
  return keyLogAt(elf, labels, function* (addr, code, wanted) {
    for (let at = code.indexOf(LEA_RSI_RIP); at >= 0 && at + 7 <= code.length; at = code.indexOf(LEA_RSI_RIP, at + 1)) {
      const lea = addr + at;
      if (!wanted.has(lea + 7 + code.readInt32LE(at + 3))) continue;
      const logSecret = firstCall(code.subarray(at, at + CALL_WITHIN), lea);
      yield logSecret === null ? null : thunkTarget(elf, logSecret);
    }
  });
}

/**
 * The one function every call site of the CLIENT_RANDOM label leads to: `sites` yields,
 * for each place in .text (at `addr`, its bytes `code`) that takes one of the label's
 * addresses (`wanted`), where that call hands its secret on (null: it cannot be told).
 * Null when any cannot, when they disagree, or when there is none.
 */
function keyLogAt(
  elf: ElfFile,
  labels: Map<number, string>,
  sites: (addr: number, code: Buffer, wanted: Set<number>) => Iterable<number | null>,
): Found | null {
  const wanted = new Set([...labels].filter(([, l]) => l === LABEL).map(([a]) => a));
  const text = elf.sections.get('.text');
  const code = elf.section('.text');
  if (!text || !code || wanted.size === 0) return null;
  const found = new Set<number>();
  for (const keylog of sites(text.addr, code, wanted)) {
    if (keylog === null) return null;
    found.add(keylog);
  }
  if (found.size !== 1) return null;
  const address = [...found][0]!;
  const offset = elf.fileOffset(address);
  return offset < 0 ? null : { address, offset };
}

const CALL_WITHIN = 48; // bytes after the label's lea: its call loads three more arguments first

/** The target of the first direct call in `code` (at `start`), if nothing branches before it. */
function firstCall(code: Buffer, start: number): number | null {
  let target: number | null = null;
  eachInstruction(code, start, (instr, iced) => {
    if (instr.flowControl === iced.FlowControl.Next) return false;
    if (instr.flowControl === iced.FlowControl.Call && instr.op0Kind === iced.OpKind.NearBranch64) target = Number(instr.nearBranchTarget);
    return true;
  });
  return target;
}

/**
 * Where the thunk at `at` hands ssl_log_secret's arguments on as nss_keylog_int's: its
 * first control transfer must be a direct jump or call, and before it the label must go
 * to rdi, the secret to r8, its length to r9, and 32 (the client random's length) to ecx.
 */
function thunkTarget(elf: ElfFile, at: number): number | null {
  let target: number | null = null;
  const moves = new Set<string>();
  eachInstruction(elf.read(elf.fileOffset(at), DECODED), at, (instr, iced) => {
    const flow = instr.flowControl;
    if (flow !== iced.FlowControl.Next) {
      const direct = instr.op0Kind === iced.OpKind.NearBranch64;
      if (direct && (flow === iced.FlowControl.UnconditionalBranch || flow === iced.FlowControl.Call))
        target = Number(instr.nearBranchTarget);
      return true;
    }
    if (instr.mnemonic !== iced.Mnemonic.Mov) return false;
    const to = iced.Register[instr.op0Register];
    if (instr.op1Kind === iced.OpKind.Register) moves.add(`${to}<-${iced.Register[instr.op1Register]}`);
    else if (instr.op1Kind === iced.OpKind.Immediate32) moves.add(`${to}<-${instr.immediate32}`);
    return false;
  });
  const expected = ['RDI<-RSI', 'R8<-RDX', 'R9<-RCX', 'ECX<-32'];
  return target !== null && expected.every((m) => moves.has(m)) ? target : null;
}

const A64_CALL_WITHIN = 12; // instructions after the label's address is formed

/**
 * keyLogIn for arm64 code: the label's address is formed in x1 (ADRP, then ADD), and the
 * first BL after it (nothing branching, and x1 not written, between) calls
 * ssl_log_secret(ssl x0, label x1, secret x2, len x3); its thunk must leave label in x0,
 * ssl in x1, 32 in x3, secret in x4 and len in x5 at its one direct branch, whose
 * target is nss_keylog_int. Every call site must agree.
 */
function keyLogInA64(elf: ElfFile, labels: Map<number, string>): Found | null {
  return keyLogAt(elf, labels, function* (addr, code, wanted) {
    const word = (i: number) => code.readUInt32LE(i * 4);
    const words = Math.floor(code.length / 4);
    const pages = new Map<number, number>(); // register → the page its ADRP formed, while nothing else wrote it
    for (let i = 0; i < words; i++) {
      const insn = decodeA64(word(i), addr + i * 4);
      if (insn.op === 'adrp') {
        pages.set(insn.rd, insn.value);
        continue;
      }
      const page = insn.op === 'add' ? pages.get(insn.rn) : undefined;
      // Most instructions name the register they write in bits 0-4: any other use there
      // only forgets a page, which can lose a call site (then nothing is found), never invent one.
      pages.delete(word(i) & 31);
      if (insn.op !== 'add' || insn.rd !== 1 || page === undefined || !wanted.has(page + insn.imm)) continue;
      let logSecret: number | null = null;
      for (let j = i + 1; j < Math.min(words, i + 1 + A64_CALL_WITHIN); j++) {
        const next = decodeA64(word(j), addr + j * 4);
        if (next.op === 'bl') {
          logSecret = next.target;
          break;
        }
        if (branches(word(j)) || (word(j) & 31) === 1) break;
      }
      yield logSecret === null ? null : thunkTargetA64(elf, logSecret);
    }
  });
}

const A64_THUNK = 16; // instructions: more than the thunk needs to reach its branch

/** thunkTarget for arm64: the registers followed through moves from ssl_log_secret's arguments. */
function thunkTargetA64(elf: ElfFile, at: number): number | null {
  const code = elf.read(elf.fileOffset(at), A64_THUNK * 4);
  // What each register holds, as the name of an argument or a number; unknown otherwise.
  const held = new Map<number, string | number>([
    [0, 'ssl'],
    [1, 'label'],
    [2, 'secret'],
    [3, 'len'],
  ]);
  for (let i = 0; i + 4 <= code.length; i += 4) {
    const insn = decodeA64(code.readUInt32LE(i), at + i);
    if (insn.op === 'b' || insn.op === 'bl') {
      const expected: [number, string | number][] = [
        [0, 'label'],
        [1, 'ssl'],
        [3, 32],
        [4, 'secret'],
        [5, 'len'],
      ];
      return expected.every(([r, v]) => held.get(r) === v) ? insn.target : null;
    }
    if (insn.op === 'mov') {
      const value = held.get(insn.rm);
      if (value === undefined) held.delete(insn.rd);
      else held.set(insn.rd, value);
    } else if (insn.op === 'movz') {
      held.set(insn.rd, insn.imm);
    } else if (insn.op === 'add' || insn.op === 'adrp') {
      held.delete(insn.rd); // the client random's address, x2: not checked
    } else {
      return null;
    }
  }
  return null;
}

const LOG_SECRET_BYTES = 1024;

/**
 * ssl_log_secret(ssl, label, secret, secret_len) in `elf` (node's binary keeps its
 * symbol table and inlines nss_keylog_int into it), and where it reads the client random
 * from: the first address it takes at a fixed distance into the SSL object, followed
 * through the registers and frame slots that hold the object (rdi, copies, callee-saved
 * registers across calls, spills). Null when the symbol is absent or that cannot be told
 * for certain.
 */
function logSecretIn(elf: ElfFile): (Found & { randomOffset: number }) | null {
  const address = elf.defined(['ssl_log_secret']).get('ssl_log_secret');
  const offset = address === undefined ? -1 : elf.fileOffset(address);
  if (address === undefined || offset < 0) return null;
  let randomOffset: number | null = null;
  const ssl = new Set<Register>(); // registers holding the SSL object
  const spilled = new Set<bigint>(); // frame slots holding it
  let started = false;
  eachInstruction(elf.read(offset, LOG_SECRET_BYTES), address, (instr, iced, writes) => {
    const full = (r: Register): Register => iced.RegisterExt.fullRegister(r);
    if (!started) {
      started = true;
      ssl.add(iced.Register.RDI);
    }
    const flow = instr.flowControl;
    if (flow === iced.FlowControl.Return || flow === iced.FlowControl.IndirectBranch) return true;
    const isMov = instr.mnemonic === iced.Mnemonic.Mov;
    const slot = (op: number): bigint | null =>
      instr.opKind(op) === iced.OpKind.Memory && full(instr.memoryBase) === iced.Register.RBP && instr.memoryIndex === iced.Register.None
        ? instr.memoryDisplacement
        : null;
    // The random is read as 32 bytes: its address taken, a byte of it at an index
    // (a hex loop), or 16 of them at once; the object's pointer fields are not.
    if (ssl.has(full(instr.memoryBase)) && [0, 1].some((op) => instr.opKind(op) === iced.OpKind.Memory)) {
      const lea = instr.mnemonic === iced.Mnemonic.Lea && instr.memoryIndex === iced.Register.None;
      const size = iced.MemorySizeExt.size(instr.memorySize);
      const bytes = (size === 1 && instr.memoryIndex !== iced.Register.None) || (size === 16 && instr.memoryIndex === iced.Register.None);
      if (lea || bytes) {
        const disp = Number(instr.memoryDisplacement);
        if (disp > 0 && disp < 0x10000) randomOffset = disp;
        return true;
      }
    }
    if (flow === iced.FlowControl.Call) {
      const R = iced.Register;
      for (const r of [R.RAX, R.RCX, R.RDX, R.RSI, R.RDI, R.R8, R.R9, R.R10, R.R11]) ssl.delete(r); // caller-saved
      return false;
    }
    if (isMov && instr.op0Kind === iced.OpKind.Register && instr.op1Kind === iced.OpKind.Register && ssl.has(full(instr.op1Register))) {
      ssl.add(full(instr.op0Register));
      return false;
    }
    const to = isMov && instr.op1Kind === iced.OpKind.Register ? slot(0) : null;
    if (to !== null) {
      if (ssl.has(full(instr.op1Register))) spilled.add(to);
      else spilled.delete(to);
      return false;
    }
    const from = isMov && instr.op0Kind === iced.OpKind.Register ? slot(1) : null;
    if (from !== null && spilled.has(from)) {
      ssl.add(full(instr.op0Register));
      return false;
    }
    for (const r of writes()) ssl.delete(r);
    return false;
  });
  return randomOffset === null ? null : { address, offset, randomOffset };
}

/** `find`, or null where it throws (any doubt: nothing found). */
function attempt<T>(find: () => T | null): T | null {
  try {
    return find();
  } catch {
    return null;
  }
}

/**
 * Where to read the OpenSSL library or binary `file`'s secrets: nss_keylog_int, or
 * ssl_log_secret where that is inlined; null where neither can be told for certain.
 * The file is opened and its labels found once for both.
 */
export function openSslSecrets(
  file: string,
): { where: { keylog: number } | { logSecret: number; randomOffset: number }; address: number; labels: Map<number, string> } | null {
  return onElf(file, [EM_X86_64, EM_AARCH64], (elf) => {
    const labels = labelAddresses(elf);
    if (elf.machine === EM_AARCH64) {
      const keylog = attempt(() => keyLogInA64(elf, labels));
      return keylog && { where: { keylog: keylog.offset }, address: keylog.address, labels };
    }
    const keylog = attempt(() => keyLogIn(elf, labels));
    if (keylog) return { where: { keylog: keylog.offset }, address: keylog.address, labels };
    const logSecret = attempt(() => logSecretIn(elf));
    if (!logSecret) return null;
    return { where: { logSecret: logSecret.offset, randomOffset: logSecret.randomOffset }, address: logSecret.address, labels };
  });
}
