/**
 * amd64 machine code decoded with iced-x86 (loaded on first use): from the start, so no
 * byte inside another instruction is taken for one.
 */
import type { Instruction } from 'iced-x86';

export type Iced = typeof import('iced-x86');

/** Hands each instruction of `code` (which sits at address `start`) to `visit`, in order, until it returns true. */
export function eachInstruction(code: Buffer, start: number, visit: (instr: Instruction, iced: Iced) => boolean | void): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const iced = require('iced-x86') as Iced;
  const decoder = new iced.Decoder(64, code, iced.DecoderOptions.None);
  decoder.ip = BigInt(start);
  const instr = new iced.Instruction();
  try {
    while (decoder.canDecode) {
      decoder.decodeOut(instr);
      if (visit(instr, iced) === true) return;
    }
  } finally {
    instr.free();
    decoder.free();
  }
}
