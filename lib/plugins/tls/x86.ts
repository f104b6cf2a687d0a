/**
 * amd64 machine code decoded with iced-x86 (loaded on first use): from the start, so no
 * byte inside another instruction is taken for one.
 */
import type { Instruction, InstructionInfoFactory, Register, UsedRegister } from 'iced-x86';

export type Iced = typeof import('iced-x86');

/**
 * Hands each instruction of `code` (which sits at address `start`) to `visit`, in order,
 * until it returns true. `writes()` gives the full registers the instruction writes.
 */
export function eachInstruction(
  code: Buffer,
  start: number,
  visit: (instr: Instruction, iced: Iced, writes: () => Register[]) => boolean | void,
): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const iced = require('iced-x86') as Iced;
  const decoder = new iced.Decoder(64, code, iced.DecoderOptions.None);
  decoder.ip = BigInt(start);
  const instr = new iced.Instruction();
  let factory: InstructionInfoFactory | undefined;
  const access = [iced.OpAccess.Write, iced.OpAccess.CondWrite, iced.OpAccess.ReadWrite, iced.OpAccess.ReadCondWrite];
  const writes = (): Register[] => {
    factory ??= new iced.InstructionInfoFactory();
    const out: Register[] = [];
    // iced's typings leave the list untyped; its entries are UsedRegister.
    for (const used of factory.info(instr).usedRegisters() as UsedRegister[]) {
      if (access.includes(used.access)) out.push(iced.RegisterExt.fullRegister(used.register));
      used.free();
    }
    return out;
  };
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      if (visit(instr, iced, writes) === true) return;
    }
  } finally {
    factory?.free();
    instr.free();
    decoder.free();
  }
}
