/**
 * A small ELF reader for the native addon check: the file header, the program headers, the
 * dynamic section with its string table, and the version needs (.gnu.version_r, found through
 * DT_VERNEED, so stripped section headers do not matter). Hand-written because that is all the
 * check needs, and the ELF packages on npm are heavy or do not read version needs at all.
 *
 * Reads go through a random-access reader, so a large file is never read whole. Every offset is
 * checked against the file size, every loop is bounded by a count that a size limits and every
 * string by a length, so a truncated or corrupt file is a NATIVE_ADDON_INVALID error naming it,
 * never a crash or a hang.
 */
import { DistillError } from '../../errors.js';

export interface ElfSource {
  /** Up to `length` bytes at `offset`; fewer at the end of the file. */
  read(offset: number, length: number): Promise<Buffer>;
  size: number;
}

export interface ElfInfo {
  class: 32 | 64;
  endian: 'little' | 'big';
  /** e_machine and its Go/OCI architecture name (amd64, arm64, arm, 386, ...; else "e_machine N"). */
  machine: { number: number; name: string };
  type: 'REL' | 'EXEC' | 'DYN' | 'CORE' | 'OTHER';
  /** PT_INTERP: /lib64/ld-linux-x86-64.so.2, /lib/ld-musl-x86_64.so.1, ... */
  interpreter?: string;
  /** DT_NEEDED sonames, in order. */
  needed: string[];
  soname?: string;
  rpath?: string;
  runpath?: string;
  /** Per needed file, the version names used from it: libc.so.6 -> GLIBC_2.34, ... */
  versionNeeds: { file: string; versions: string[] }[];
}

const MAGIC = [0x7f, 0x45, 0x4c, 0x46];

export function isElf(firstBytes: Uint8Array): boolean {
  return MAGIC.every((b, i) => firstBytes[i] === b);
}

const TYPES = { 1: 'REL', 2: 'EXEC', 3: 'DYN', 4: 'CORE' } as const;

function machineName(n: number, is64: boolean, le: boolean): string {
  switch (n) {
    case 3:
      return '386';
    case 8:
      return `mips${is64 ? '64' : ''}${le ? 'le' : ''}`;
    case 20:
      return 'ppc';
    case 21:
      return le ? 'ppc64le' : 'ppc64';
    case 22:
      return is64 ? 's390x' : 's390';
    case 40:
      return 'arm';
    case 62:
      return 'amd64';
    case 183:
      return 'arm64';
    case 243:
      return is64 ? 'riscv64' : 'riscv32';
    case 258:
      return 'loong64';
    default:
      return `e_machine ${n}`;
  }
}

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const PT_INTERP = 3;
const DT_NULL = 0;
const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_SONAME = 14;
const DT_RPATH = 15;
const DT_RUNPATH = 29;
const DT_VERNEED = 0x6ffffffe;
const DT_VERNEEDNUM = 0x6fffffff;
/** Verneed and Vernaux entries are 16 bytes in both classes. */
const VER_ENTRY = 16;

/** Longest string read from the dynamic string table (sonames, paths, version names). */
const MAX_STRING = 16 * 1024;

interface Segment {
  offset: number;
  vaddr: number;
  filesz: number;
}

/**
 * Random access to one ELF file in its class and byte order, every read checked against the file;
 * `fail` raises the caller's error (the addon check's, the strip's) for what is wrong.
 */
export class ElfFile {
  constructor(
    readonly src: ElfSource,
    readonly fail: (what: string) => never,
    readonly is64: boolean,
    readonly le: boolean,
  ) {}

  async bytes(offset: number, length: number, what: string): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.src.size) {
      this.fail(`${what} past the end of the file`);
    }
    const b = await this.src.read(offset, length);
    if (b.length < length) this.fail(`${what} cut short`);
    return b.subarray(0, length);
  }

  u16(b: Buffer, o: number): number {
    return this.le ? b.readUInt16LE(o) : b.readUInt16BE(o);
  }

  u32(b: Buffer, o: number): number {
    return this.le ? b.readUInt32LE(o) : b.readUInt32BE(o);
  }

  /** Addresses and sizes; above 2^53 they are past any file anyway, so the precision lost is moot. */
  word(b: Buffer, o: number): number {
    return this.is64 ? Number(this.le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : this.u32(b, o);
  }

  /** Writes in the file's byte order (ELF64 words: offsets and sizes). */
  put16(b: Buffer, o: number, v: number): void {
    if (this.le) b.writeUInt16LE(v, o);
    else b.writeUInt16BE(v, o);
  }

  put32(b: Buffer, o: number, v: number): void {
    if (this.le) b.writeUInt32LE(v, o);
    else b.writeUInt32BE(v, o);
  }

  put64(b: Buffer, o: number, v: number): void {
    if (this.le) b.writeBigUInt64LE(BigInt(v), o);
    else b.writeBigUInt64BE(BigInt(v), o);
  }
}

/** An ElfSource over bytes in memory. */
export function bufferSource(b: Buffer): ElfSource {
  return { read: async (o, l) => b.subarray(o, o + l), size: b.length };
}

function elfInvalid(name: string, what: string): never {
  throw new DistillError(
    'NATIVE_ADDON_INVALID',
    `${name} is not a valid ELF file (${what}); reinstall the package that has it, or delete the file if nothing loads it`,
  );
}

/**
 * Reads what the native addon check needs from an ELF file. Every offset is checked against the
 * file, every loop is bounded by a count the file's size limits, every string read is bounded
 * (16 KiB), so a truncated or hostile file is a NATIVE_ADDON_INVALID error naming it.
 */
export async function readElf(source: Buffer | ElfSource, name: string): Promise<ElfInfo> {
  const src: ElfSource = Buffer.isBuffer(source) ? bufferSource(source) : source;
  const elf = await openElf(src, (what) => elfInvalid(name, what));
  const h = await elf.bytes(0, elf.is64 ? 64 : 52, 'the header');
  const machine = elf.u16(h, 18);
  const info: ElfInfo = {
    class: elf.is64 ? 64 : 32,
    endian: elf.le ? 'little' : 'big',
    machine: { number: machine, name: machineName(machine, elf.is64, elf.le) },
    type: TYPES[elf.u16(h, 16) as keyof typeof TYPES] ?? 'OTHER',
    needed: [],
    versionNeeds: [],
  };
  const phnum = elf.u16(h, elf.is64 ? 56 : 44);
  if (phnum === 0) return info;
  const { loads, dynamic, interp } = await programHeaders(elf, h, phnum);
  if (interp) {
    const b = await elf.bytes(interp.offset, Math.min(interp.filesz, 4096), 'the interpreter name');
    const end = b.indexOf(0);
    info.interpreter = b.toString('utf8', 0, end < 0 ? b.length : end);
  }
  if (dynamic) await readDynamic(elf, dynamic, loads, info);
  return info;
}

/** The file's class and byte order from its identification bytes; `fail` for anything else. */
export async function openElf(src: ElfSource, fail: (what: string) => never): Promise<ElfFile> {
  const ident = await new ElfFile(src, fail, false, true).bytes(0, 16, 'the header');
  if (!isElf(ident)) fail('no ELF magic');
  const cls = ident[4];
  const data = ident[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) {
    fail(`unknown class ${cls} or byte order ${data}`);
  }
  return new ElfFile(src, fail, cls === 2, data === 1);
}

/** The loaded segments, the dynamic segment and the interpreter's, from the program headers. */
async function programHeaders(
  elf: ElfFile,
  h: Buffer,
  phnum: number,
): Promise<{ loads: Segment[]; dynamic?: Segment; interp?: Segment }> {
  const phoff = elf.word(h, elf.is64 ? 32 : 28);
  const phentsize = elf.u16(h, elf.is64 ? 54 : 42);
  if (phentsize < (elf.is64 ? 56 : 32)) elf.fail(`program header entries of ${phentsize} bytes`);
  const ph = await elf.bytes(phoff, phnum * phentsize, 'the program headers');
  const out: { loads: Segment[]; dynamic?: Segment; interp?: Segment } = { loads: [] };
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const type = elf.u32(ph, o);
    const seg = elf.is64
      ? { offset: elf.word(ph, o + 8), vaddr: elf.word(ph, o + 16), filesz: elf.word(ph, o + 32) }
      : { offset: elf.word(ph, o + 4), vaddr: elf.word(ph, o + 8), filesz: elf.word(ph, o + 16) };
    if (type === PT_LOAD) out.loads.push(seg);
    else if (type === PT_DYNAMIC) out.dynamic = seg;
    else if (type === PT_INTERP) out.interp = seg;
  }
  return out;
}

/** The dynamic section's tags (DT_NEEDED in order) up to DT_NULL. */
async function dynamicTags(
  elf: ElfFile,
  dynamic: Segment,
): Promise<{ tags: Map<number, number>; needed: number[] }> {
  const entsize = elf.is64 ? 16 : 8;
  const dyn = await elf.bytes(
    dynamic.offset,
    dynamic.filesz - (dynamic.filesz % entsize),
    'the dynamic section',
  );
  const tags = new Map<number, number>();
  const needed: number[] = [];
  for (let o = 0; o < dyn.length; o += entsize) {
    const tag = elf.word(dyn, o);
    const val = elf.word(dyn, o + entsize / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) needed.push(val);
    else tags.set(tag, val);
  }
  return { tags, needed };
}

/** File offset of a virtual address, and how many bytes of its segment follow it. */
function locate(
  elf: ElfFile,
  loads: Segment[],
  addr: number,
  what: string,
): { offset: number; avail: number } {
  const seg = loads.find((s) => s.vaddr <= addr && addr < s.vaddr + s.filesz);
  if (!seg) return elf.fail(`${what} is outside every loaded segment`);
  return { offset: seg.offset + (addr - seg.vaddr), avail: seg.filesz - (addr - seg.vaddr) };
}

/** Needed libraries, soname, rpath, runpath and version needs, from the dynamic section. */
async function readDynamic(elf: ElfFile, dynamic: Segment, loads: Segment[], info: ElfInfo): Promise<void> {
  const { tags, needed } = await dynamicTags(elf, dynamic);
  const strAddr = tags.get(DT_STRTAB);
  const strSize = tags.get(DT_STRSZ);
  if (strAddr === undefined || strSize === undefined) {
    if (needed.length > 0 || tags.has(DT_SONAME) || tags.has(DT_VERNEED)) elf.fail('no dynamic string table');
    return;
  }
  const strLoc = locate(elf, loads, strAddr, 'the dynamic string table');
  if (strSize > strLoc.avail) elf.fail('the dynamic string table runs past its segment');
  const strtab = await elf.bytes(strLoc.offset, strSize, 'the dynamic string table');
  const str = (off: number): string => {
    const end = off < strtab.length ? strtab.subarray(off, off + MAX_STRING).indexOf(0) : -1;
    if (end < 0)
      elf.fail(
        `string offset ${off} is outside the dynamic string table, or its string is over ${MAX_STRING} bytes`,
      );
    return strtab.toString('utf8', off, off + end);
  };
  info.needed = needed.map(str);
  const optional = (tag: number) => {
    const v = tags.get(tag);
    return v === undefined ? undefined : str(v);
  };
  const soname = optional(DT_SONAME);
  const rpath = optional(DT_RPATH);
  const runpath = optional(DT_RUNPATH);
  if (soname !== undefined) info.soname = soname;
  if (rpath !== undefined) info.rpath = rpath;
  if (runpath !== undefined) info.runpath = runpath;
  const vnAddr = tags.get(DT_VERNEED);
  const vnNum = tags.get(DT_VERNEEDNUM);
  if (vnAddr === undefined || vnNum === 0) return;
  info.versionNeeds = await versionNeeds(elf, locate(elf, loads, vnAddr, 'the version needs'), vnNum, str);
}

/**
 * The version needs (Verneed entries, each with its Vernaux entries). Entries cannot overlap in a
 * valid file, so the segment's remaining size bounds their count (Verneed and Vernaux together),
 * whatever the next-offsets say; the offsets are relative to the start of the version needs.
 */
async function versionNeeds(
  elf: ElfFile,
  vn: { offset: number; avail: number },
  vnNum: number | undefined,
  str: (off: number) => string,
): Promise<{ file: string; versions: string[] }[]> {
  const out: { file: string; versions: string[] }[] = [];
  const limit = Math.floor(vn.avail / VER_ENTRY);
  let entries = 0;
  const entry = (rel: number) => {
    if (++entries > limit || rel + VER_ENTRY > vn.avail) elf.fail('the version needs run past their segment');
    return elf.bytes(vn.offset + rel, VER_ENTRY, 'the version needs');
  };
  // DT_VERNEEDNUM counts the entries; without it (as the loader does) the chain ends at vn_next 0.
  for (let i = 1, rel = 0; ; i++) {
    const need = await entry(rel);
    const versions: string[] = [];
    for (let j = 0, aux = rel + elf.u32(need, 8); j < elf.u16(need, 2); j++) {
      const a = await entry(aux);
      versions.push(str(elf.u32(a, 8)));
      aux += elf.u32(a, 12);
    }
    out.push({ file: str(elf.u32(need, 4)), versions });
    const next = elf.u32(need, 12);
    if (i === vnNum || next === 0) break;
    rel += next;
  }
  return out;
}
