/**
 * Just enough of an ELF64 little-endian file to find a Go binary's sections, a library's
 * exported functions, and turn a virtual address into the file offset a uprobe is
 * attached at. Reads by position, so a large binary is never loaded whole to learn what
 * it is.
 */
import fs from 'node:fs';

export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;

export interface Section {
  addr: number;
  offset: number;
  size: number;
}

interface Segment {
  vaddr: number;
  offset: number;
  filesz: number;
}

export class ElfFile {
  readonly machine: number;
  readonly sections = new Map<string, Section>();
  readonly #segments: Segment[] = [];
  readonly #fd: number;

  /** Throws a plain Error whose message is the reason when `file` is no ELF64 LE file. */
  constructor(file: string) {
    this.#fd = fs.openSync(file, 'r');
    try {
      const h = this.read(0, 64);
      if (h.readUInt32BE(0) !== 0x7f454c46) throw new Error('is not an ELF file');
      if (h[4] !== 2 || h[5] !== 1) throw new Error('is not a 64-bit little-endian ELF file');
      this.machine = h.readUInt16LE(18);
      const phoff = Number(h.readBigUInt64LE(32));
      const shoff = Number(h.readBigUInt64LE(40));
      const [phentsize, phnum, shentsize, shnum, shstrndx] = [54, 56, 58, 60, 62].map((at) => h.readUInt16LE(at)) as [
        number,
        number,
        number,
        number,
        number,
      ];
      const ph = this.read(phoff, phentsize * phnum);
      for (let i = 0; i < phnum; i++) {
        const at = i * phentsize;
        if (ph.readUInt32LE(at) !== 1 /* PT_LOAD */) continue;
        this.#segments.push({
          offset: Number(ph.readBigUInt64LE(at + 8)),
          vaddr: Number(ph.readBigUInt64LE(at + 16)),
          filesz: Number(ph.readBigUInt64LE(at + 32)),
        });
      }
      if (shnum === 0 || shstrndx >= shnum) return;
      const sh = this.read(shoff, shentsize * shnum);
      const field = (i: number, at: number): number => Number(sh.readBigUInt64LE(i * shentsize + at));
      const names = this.read(field(shstrndx, 24), field(shstrndx, 32));
      for (let i = 0; i < shnum; i++) {
        const nameAt = sh.readUInt32LE(i * shentsize);
        const name = names.toString('latin1', nameAt, names.indexOf(0, nameAt));
        this.sections.set(name, { addr: field(i, 16), offset: field(i, 24), size: field(i, 32) });
      }
    } catch (err) {
      fs.closeSync(this.#fd);
      throw err;
    }
  }

  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    const n = fs.readSync(this.#fd, out, 0, length, offset);
    if (n < length) throw new Error('is cut short');
    return out;
  }

  /** A section's bytes, or null when the file has no such section. */
  section(name: string): Buffer | null {
    const s = this.sections.get(name);
    return s ? this.read(s.offset, s.size) : null;
  }

  /** The addresses of the defined functions among `names` that the file exports (.dynsym). */
  exported(names: string[]): Map<string, number> {
    return this.#functions('.dynsym', '.dynstr', names);
  }

  /** As exported(), from the full symbol table (.symtab) a file not stripped keeps. */
  defined(names: string[]): Map<string, number> {
    return this.#functions('.symtab', '.strtab', names);
  }

  #functions(table: string, strtab: string, names: string[]): Map<string, number> {
    const found = new Map<string, number>();
    const symbols = this.section(table);
    const strings = this.section(strtab);
    if (!symbols || !strings) return found;
    const wanted = new Set(names);
    // Names are decoded only at a wanted length: a large binary has 100,000 symbols or more.
    const lengths = new Set(names.map((n) => n.length));
    for (let at = 0; at + 24 <= symbols.length; at += 24) {
      const type = symbols[at + 4]! & 0xf;
      if (type !== 2 /* STT_FUNC */ || symbols.readUInt16LE(at + 6) === 0 /* undefined */) continue;
      const nameAt = symbols.readUInt32LE(at);
      const end = strings.indexOf(0, nameAt);
      if (!lengths.has(end - nameAt)) continue;
      const value = Number(symbols.readBigUInt64LE(at + 8));
      const name = strings.toString('latin1', nameAt, end);
      if (value !== 0 && wanted.has(name)) found.set(name, value);
    }
    return found;
  }

  /** The file offset of virtual address `vaddr`, or -1 when no loaded segment holds it. */
  fileOffset(vaddr: number): number {
    const seg = this.#segments.find((s) => vaddr >= s.vaddr && vaddr < s.vaddr + s.filesz);
    return seg ? vaddr - seg.vaddr + seg.offset : -1;
  }

  close(): void {
    fs.closeSync(this.#fd);
  }
}
