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
import type { InstructionInfoFactory, UsedRegister } from 'iced-x86';
import { ElfFile, EM_X86_64 } from './elf';
import { eachInstruction } from './x86';

/** File offsets of the internal read and write functions. */
export interface OpenSslInternals {
  read: number;
  write: number;
}

const ARGUMENTS = ['RDI', 'RSI', 'RDX', 'RCX'] as const;
const DECODED = 64; // bytes: more than either wrapper needs to reach its call

/**
 * Where `wrapper` (an _ex function taking the internal function's four arguments)
 * hands them on unchanged: its first control transfer must be a direct call or tail
 * jump, with no branch and no write to an argument register before it.
 */
function passedTo(elf: ElfFile, wrapper: number, strict: boolean): number | null {
  let target: number | null = null;
  let factory: InstructionInfoFactory | undefined;
  try {
    eachInstruction(elf.read(elf.fileOffset(wrapper), DECODED), wrapper, (instr, iced) => {
      const flow = instr.flowControl;
      const direct = instr.op0Kind === iced.OpKind.NearBranch64;
      if ((flow === iced.FlowControl.Call || flow === iced.FlowControl.UnconditionalBranch) && direct) {
        target = Number(instr.nearBranchTarget);
        return true;
      }
      if (!strict) return false;
      if (flow !== iced.FlowControl.Next) return true;
      factory ??= new iced.InstructionInfoFactory();
      const args = new Set<number>(ARGUMENTS.map((r) => iced.Register[r]));
      const written = [iced.OpAccess.Write, iced.OpAccess.CondWrite, iced.OpAccess.ReadWrite, iced.OpAccess.ReadCondWrite];
      // iced's typings leave the list untyped; its entries are UsedRegister.
      let touched = false;
      for (const used of factory.info(instr).usedRegisters() as UsedRegister[]) {
        touched ||= args.has(iced.RegisterExt.fullRegister(used.register)) && written.includes(used.access);
        used.free();
      }
      return touched;
    });
  } finally {
    factory?.free();
  }
  return target;
}

/**
 * The internal functions of the OpenSSL library `file`, or null when they cannot be
 * told for certain (any doubt keeps the exported hooks, which are never wrong).
 */
export function openSslInternals(file: string): OpenSslInternals | null {
  let elf: ElfFile;
  try {
    elf = new ElfFile(file);
  } catch {
    return null;
  }
  try {
    if (elf.machine !== EM_X86_64) return null;
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
  } catch {
    return null;
  } finally {
    elf.close();
  }
}
