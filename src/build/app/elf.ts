/**
 * A small ELF reader for the native addon check: the file header, the program headers, the
 * dynamic section with its string table, and the version needs (.gnu.version_r, found through
 * DT_VERNEED, so stripped section headers do not matter). Hand-written because that is all the
 * check needs, and the ELF packages on npm are heavy or do not read version needs at all.
 *
 * Reads go through a random-access reader, so a large file is never read whole. Every offset is
 * checked against the file size and every loop is bounded by a count that a size limits, so a
 * truncated or corrupt file is a NATIVE_ADDON_INVALID error naming it, never a crash or a hang.
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

export async function readElf(source: Buffer | ElfSource, name: string): Promise<ElfInfo> {
  const src: ElfSource = Buffer.isBuffer(source)
    ? { read: async (o, l) => source.subarray(o, o + l), size: source.length }
    : source;
  const fail = (what: string): never => {
    throw new DistillError(
      'NATIVE_ADDON_INVALID',
      `${name} is not a valid ELF file (${what}); reinstall the package that has it, or delete the file if nothing loads it`,
    );
  };
  const bytes = async (offset: number, length: number, what: string): Promise<Buffer> => {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > src.size) {
      fail(`${what} past the end of the file`);
    }
    const b = await src.read(offset, length);
    if (b.length < length) fail(`${what} cut short`);
    return b.subarray(0, length);
  };

  const ident = await bytes(0, 16, 'the header');
  if (!isElf(ident)) fail('no ELF magic');
  const cls = ident[4];
  const data = ident[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2))
    fail(`unknown class ${cls} or byte order ${data}`);
  const is64 = cls === 2;
  const le = data === 1;
  const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  // Addresses and sizes; above 2^53 they are past any file anyway, so the precision lost is moot.
  const word = (b: Buffer, o: number) =>
    is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o);

  const h = await bytes(0, is64 ? 64 : 52, 'the header');
  const type = u16(h, 16);
  const machine = u16(h, 18);
  const phoff = word(h, is64 ? 32 : 28);
  const phentsize = u16(h, is64 ? 54 : 42);
  const phnum = u16(h, is64 ? 56 : 44);
  const info: ElfInfo = {
    class: is64 ? 64 : 32,
    endian: le ? 'little' : 'big',
    machine: { number: machine, name: machineName(machine, is64, le) },
    type: TYPES[type as keyof typeof TYPES] ?? 'OTHER',
    needed: [],
    versionNeeds: [],
  };
  if (phnum === 0) return info;
  if (phentsize < (is64 ? 56 : 32)) fail(`program header entries of ${phentsize} bytes`);

  const ph = await bytes(phoff, phnum * phentsize, 'the program headers');
  const loads: { vaddr: number; offset: number; filesz: number }[] = [];
  let dynamic: { offset: number; filesz: number } | undefined;
  let interp: { offset: number; filesz: number } | undefined;
  for (let i = 0; i < phnum; i++) {
    const o = i * phentsize;
    const seg = is64
      ? { type: u32(ph, o), offset: word(ph, o + 8), vaddr: word(ph, o + 16), filesz: word(ph, o + 32) }
      : { type: u32(ph, o), offset: word(ph, o + 4), vaddr: word(ph, o + 8), filesz: word(ph, o + 16) };
    if (seg.type === PT_LOAD) loads.push(seg);
    else if (seg.type === PT_DYNAMIC) dynamic = seg;
    else if (seg.type === PT_INTERP) interp = seg;
  }

  if (interp) {
    const b = await bytes(interp.offset, Math.min(interp.filesz, 4096), 'the interpreter name');
    const end = b.indexOf(0);
    info.interpreter = b.toString('utf8', 0, end < 0 ? b.length : end);
  }
  if (!dynamic) return info;

  const entsize = is64 ? 16 : 8;
  const dyn = await bytes(dynamic.offset, dynamic.filesz - (dynamic.filesz % entsize), 'the dynamic section');
  const tags = new Map<number, number>();
  const needed: number[] = [];
  for (let o = 0; o < dyn.length; o += entsize) {
    const tag = word(dyn, o);
    const val = word(dyn, o + entsize / 2);
    if (tag === DT_NULL) break;
    if (tag === DT_NEEDED) needed.push(val);
    else tags.set(tag, val);
  }

  /** File offset of a virtual address, and how many bytes of its segment follow it. */
  const locate = (addr: number, what: string) => {
    const seg = loads.find((s) => s.vaddr <= addr && addr < s.vaddr + s.filesz);
    if (!seg) return fail(`${what} is outside every loaded segment`);
    return { offset: seg.offset + (addr - seg.vaddr), avail: seg.filesz - (addr - seg.vaddr) };
  };

  const strAddr = tags.get(DT_STRTAB);
  const strSize = tags.get(DT_STRSZ);
  if (strAddr === undefined || strSize === undefined) {
    if (needed.length > 0 || tags.has(DT_SONAME) || tags.has(DT_VERNEED)) fail('no dynamic string table');
    return info;
  }
  const strLoc = locate(strAddr, 'the dynamic string table');
  if (strSize > strLoc.avail) fail('the dynamic string table runs past its segment');
  const strtab = await bytes(strLoc.offset, strSize, 'the dynamic string table');
  const str = (off: number): string => {
    const end = off < strtab.length ? strtab.indexOf(0, off) : -1;
    if (end < 0) fail(`string offset ${off} is outside the dynamic string table`);
    return strtab.toString('utf8', off, end);
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
  if (vnAddr === undefined || vnNum === 0) return info;
  const vn = locate(vnAddr, 'the version needs');
  // Entries cannot overlap in a valid file, so the segment's remaining size bounds their count
  // (Verneed and Vernaux together); the offsets are relative to the start of the version needs.
  const limit = Math.floor(vn.avail / VER_ENTRY);
  let entries = 0;
  const entry = (rel: number) => {
    if (++entries > limit || rel + VER_ENTRY > vn.avail) fail('the version needs run past their segment');
    return bytes(vn.offset + rel, VER_ENTRY, 'the version needs');
  };
  // DT_VERNEEDNUM counts the entries; without it (as the loader does) the chain ends at vn_next 0.
  for (let i = 1, rel = 0; ; i++) {
    const need = await entry(rel);
    const versions: string[] = [];
    for (let j = 0, aux = rel + u32(need, 8); j < u16(need, 2); j++) {
      const a = await entry(aux);
      versions.push(str(u32(a, 8)));
      aux += u32(a, 12);
    }
    info.versionNeeds.push({ file: str(u32(need, 4)), versions });
    const next = u32(need, 12);
    if (i === vnNum || next === 0) break;
    rel += next;
  }
  return info;
}
