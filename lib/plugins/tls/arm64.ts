/**
 * The few A64 instructions the key log search reads in arm64 libraries (see
 * openssl.ts): address forming (ADRP, ADD immediate), register and immediate moves, and
 * direct branches. A64 instructions are one 32-bit word each; anything else decodes as
 * `other`, which the searches treat as "cannot tell".
 */

export type A64 =
  | { op: 'adrp'; rd: number; value: number }
  | { op: 'add'; rd: number; rn: number; imm: number }
  | { op: 'mov'; rd: number; rm: number }
  | { op: 'movz'; rd: number; imm: number }
  | { op: 'b' | 'bl'; target: number }
  | { op: 'other'; word: number };

function signed(value: number, bits: number): number {
  return value >= 2 ** (bits - 1) ? value - 2 ** bits : value;
}

/** The instruction `word` at address `pc`. */
export function decodeA64(word: number, pc: number): A64 {
  const rd = word & 31;
  // ADRP Xd, label: the 4 KiB page of pc plus a signed 21-bit page count.
  if ((word & 0x9f000000) >>> 0 === 0x90000000) {
    const pages = signed((((word >>> 5) & 0x7ffff) << 2) | ((word >>> 29) & 3), 21);
    return { op: 'adrp', rd, value: Math.floor(pc / 4096) * 4096 + pages * 4096 };
  }
  // ADD Xd, Xn, #imm12{, LSL #12} (64-bit, flags not set).
  if ((word & 0xff800000) >>> 0 === 0x91000000) {
    const imm = ((word >>> 10) & 0xfff) * ((word >>> 22) & 1 ? 4096 : 1);
    return { op: 'add', rd, rn: (word >>> 5) & 31, imm };
  }
  // MOV Xd, Xm and MOV Wd, Wm: ORR with XZR, no shift.
  if ((word & 0x7fe0ffe0) >>> 0 === 0x2a0003e0) return { op: 'mov', rd, rm: (word >>> 16) & 31 };
  // MOVZ Xd or Wd, #imm16{, LSL #hw*16}.
  if ((word & 0x7f800000) >>> 0 === 0x52800000) {
    return { op: 'movz', rd, imm: ((word >>> 5) & 0xffff) * 2 ** (16 * ((word >>> 21) & 3)) };
  }
  // B and BL: a signed 26-bit word count from pc.
  if ((word & 0x7c000000) >>> 0 === 0x14000000) {
    return { op: word >>> 31 ? 'bl' : 'b', target: pc + signed(word & 0x3ffffff, 26) * 4 };
  }
  return { op: 'other', word };
}

/**
 * Whether `word` may change the flow of control (any branch, return, exception or
 * compare-and-branch): the A64 encoding groups "branches, exception generating and
 * system instructions" under op0 = x101; system instructions there count too.
 */
export function branches(word: number): boolean {
  // HINT (NOP, BTI, PACIASP, ...) lives in that group too, and does not branch.
  if ((word & 0xfffff01f) >>> 0 === 0xd503201f) return false;
  return ((word >>> 26) & 7) === 5;
}
