/**
 * Stripping an ELF64 executable or shared object the way `strip --strip-all` does, in TypeScript
 * so that it gives the same bytes on any host (a macOS laptop building an arm64 image included):
 * the non-allocated debug sections (.debug_*, .zdebug_*, .stab*, .line) and the static symbol
 * table (.symtab, its .strtab and .symtab_shndx, relocations of dropped sections) go; every
 * SHF_ALLOC section (.dynsym, .dynstr, notes, the build-id), every other non-allocated section
 * (.comment, .gnu_debuglink, .gnu.build.attributes) and the program headers stay, and the
 * section header table and .shstrtab are written anew. Nothing the loader maps moves: the file is
 * kept byte for byte up to the end of the last thing a program header or an allocated section
 * names, the kept non-allocated sections follow, then the new .shstrtab and section headers.
 *
 * Where GNU strip differs: it also merges annobin's .gnu.build.attributes notes (Node 24's x64
 * binary: 19.8 KB to 1.1 KB); this keeps them whole. Hand-written because no npm package rewrites
 * ELF section tables; the header reading is elf.ts's ElfFile.
 *
 * The plan is made by random reads of the headers; the output is produced from one sequential
 * pass over the input (`stripStream`), so a store blob can be read through its verifying stream.
 */
import { DistillError } from '../../errors.js';
import { bufferSource, type ElfFile, type ElfSource, openElf } from './elf.js';

const SHF_ALLOC = 0x2;
const SHF_INFO_LINK = 0x40;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;
const SHT_RELA = 4;
const SHT_NOBITS = 8;
const SHT_REL = 9;
const SHT_SYMTAB_SHNDX = 18;
const ET_EXEC = 2;
const ET_DYN = 3;
const EHDR = 64;
const SHDR = 64;
/** Section indices from here on are reserved (SHN_LORESERVE). */
const SHN_LORESERVE = 0xff00;

interface Section {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  align: number;
  /** The raw header, rewritten for the output. */
  raw: Buffer;
}

/** One piece of the output: bytes of the input at `from`, or bytes made here. */
export type StripPiece = { from: number; length: number } | { bytes: Buffer };

export interface StripPlan {
  /** The output, in order; input ranges ascend and never overlap. */
  pieces: StripPiece[];
  inputSize: number;
  size: number;
  /** The sections dropped, in the input's order, with their sizes. */
  removed: { name: string; size: number }[];
}

function stripInvalid(name: string, what: string): never {
  throw new DistillError(
    'ELF_INVALID',
    `${name} cannot be stripped: ${what}. Only ELF64 executables and shared objects are stripped; build with --no-strip to ship it whole`,
  );
}

function debugName(name: string): boolean {
  return (
    name.startsWith('.debug') ||
    name.startsWith('.zdebug') ||
    name === '.stab' ||
    name === '.stabstr' ||
    name === '.line'
  );
}

async function readSections(elf: ElfFile, h: Buffer): Promise<{ sections: Section[]; shstrndx: number }> {
  const shoff = elf.word(h, 40);
  const shentsize = elf.u16(h, 58);
  const shnum = elf.u16(h, 60);
  const shstrndx = elf.u16(h, 62);
  if (shnum === 0 || shnum >= SHN_LORESERVE) {
    elf.fail('extended section numbering (over 65,279 sections) is not supported');
  }
  if (shentsize !== SHDR) elf.fail(`section header entries of ${shentsize} bytes`);
  if (shstrndx >= shnum) elf.fail(`the section name table index ${shstrndx} is not a section`);
  const table = await elf.bytes(shoff, shnum * SHDR, 'the section headers');
  const raws = Array.from({ length: shnum }, (_, i) => Buffer.from(table.subarray(i * SHDR, (i + 1) * SHDR)));
  const strHdr = raws[shstrndx]!;
  const names = await elf.bytes(elf.word(strHdr, 24), elf.word(strHdr, 32), 'the section name table');
  const sections = raws.map((raw, index): Section => {
    const nameOff = elf.u32(raw, 0);
    const end = names.indexOf(0, nameOff);
    if (nameOff >= names.length || end < 0) elf.fail(`section ${index}'s name is outside the name table`);
    const s: Section = {
      index,
      name: names.toString('latin1', nameOff, end),
      type: elf.u32(raw, 4),
      flags: elf.word(raw, 8),
      offset: elf.word(raw, 24),
      size: elf.word(raw, 32),
      link: elf.u32(raw, 40),
      info: elf.u32(raw, 44),
      align: elf.word(raw, 48),
      raw,
    };
    if (s.link >= shnum) elf.fail(`section ${s.name} links to section ${s.link}, which is not there`);
    const bytes = s.type === SHT_NOBITS ? 0 : s.size;
    if (!Number.isSafeInteger(s.offset + bytes) || s.offset + bytes > elf.src.size) {
      elf.fail(`section ${s.name} runs past the end of the file`);
    }
    return s;
  });
  return { sections, shstrndx };
}

/** Which sections go: debug and static symbols, and what only they use. Never an allocated one. */
function droppedSections(sections: Section[], shstrndx: number, elf: ElfFile): Set<number> {
  const drop = new Set<number>();
  for (const s of sections) {
    if (s.index !== 0 && !(s.flags & SHF_ALLOC) && (debugName(s.name) || s.type === SHT_SYMTAB))
      drop.add(s.index);
  }
  // What refers to a dropped section: its extended indices and relocations; a string table that
  // only dropped sections link to.
  for (const s of sections) {
    if (s.flags & SHF_ALLOC || drop.has(s.index)) continue;
    if (s.type === SHT_SYMTAB_SHNDX && drop.has(s.link)) drop.add(s.index);
    if ((s.type === SHT_REL || s.type === SHT_RELA) && drop.has(s.info)) drop.add(s.index);
  }
  for (const s of sections) {
    if (s.type !== SHT_STRTAB || s.flags & SHF_ALLOC || s.index === shstrndx || drop.has(s.index)) continue;
    const users = sections.filter((u) => u.link === s.index && u.index !== 0);
    if (users.length > 0 && users.every((u) => drop.has(u.index))) drop.add(s.index);
  }
  for (const s of sections) {
    if (drop.has(s.index)) continue;
    if (drop.has(s.link) && s.link !== 0)
      elf.fail(`the kept section ${s.name} links to ${sections[s.link]!.name}`);
    if (s.flags & SHF_INFO_LINK && drop.has(s.info))
      elf.fail(`the kept section ${s.name} applies to a dropped one`);
  }
  return drop;
}

/** Where the loader's bytes end: the headers, every segment, every allocated section. */
async function loadedEnd(elf: ElfFile, h: Buffer, sections: Section[]): Promise<number> {
  const phoff = elf.word(h, 32);
  const phentsize = elf.u16(h, 54);
  const phnum = elf.u16(h, 56);
  let end = EHDR;
  if (phnum > 0) {
    if (phentsize < 56) elf.fail(`program header entries of ${phentsize} bytes`);
    const ph = await elf.bytes(phoff, phnum * phentsize, 'the program headers');
    end = Math.max(end, phoff + phnum * phentsize);
    for (let i = 0; i < phnum; i++) {
      const offset = elf.word(ph, i * phentsize + 8);
      const filesz = elf.word(ph, i * phentsize + 32);
      if (offset + filesz > elf.src.size) elf.fail(`program header ${i} runs past the end of the file`);
      end = Math.max(end, offset + filesz);
    }
  }
  for (const s of sections) {
    if (s.flags & SHF_ALLOC && s.type !== SHT_NOBITS) end = Math.max(end, s.offset + s.size);
  }
  return end;
}

const alignUp = (n: number, a: number) => (a > 1 ? Math.ceil(n / a) * a : n);

/**
 * The plan of a strip: which sections go and the pieces of the output. A file without section
 * headers, or with nothing to drop, comes back as itself (one piece, nothing removed).
 */
export async function planStrip(src: ElfSource, name: string): Promise<StripPlan> {
  const elf = await openElf(src, (what) => stripInvalid(name, what));
  if (!elf.is64) elf.fail('it is a 32-bit ELF file');
  const h = await elf.bytes(0, EHDR, 'the header');
  const type = elf.u16(h, 16);
  if (type !== ET_EXEC && type !== ET_DYN)
    elf.fail(`its type is ${type}, not an executable or shared object`);
  const whole: StripPlan = {
    pieces: [{ from: 0, length: src.size }],
    inputSize: src.size,
    size: src.size,
    removed: [],
  };
  if (elf.word(h, 40) === 0) return whole;
  const { sections, shstrndx } = await readSections(elf, h);
  const drop = droppedSections(sections, shstrndx, elf);
  if (drop.size === 0) return whole;
  const loaded = await loadedEnd(elf, h, sections);
  const kept = sections.filter((s) => !drop.has(s.index));
  const newIndex = new Map(kept.map((s, i) => [s.index, i]));
  // Kept non-allocated sections past the loaded bytes follow them, in file order.
  const moved = kept
    .filter(
      (s) => s.index !== 0 && s.index !== shstrndx && !(s.flags & SHF_ALLOC) && s.offset + s.size > loaded,
    )
    .sort((a, b) => a.offset - b.offset || a.index - b.index);
  const pieces: StripPiece[] = [{ bytes: Buffer.alloc(0) }, { from: EHDR, length: loaded - EHDR }];
  let at = loaded;
  let last = loaded;
  const offsets = new Map<number, number>();
  for (const s of moved) {
    if (s.type === SHT_NOBITS) {
      offsets.set(s.index, at);
      continue;
    }
    if (s.offset < last) elf.fail(`section ${s.name} overlaps another`);
    const start = alignUp(at, s.align);
    if (start > at) pieces.push({ bytes: Buffer.alloc(start - at) });
    pieces.push({ from: s.offset, length: s.size });
    offsets.set(s.index, start);
    at = start + s.size;
    last = s.offset + s.size;
  }
  // The new name table: every kept name once, in section order.
  const names = new Map<string, number>([['', 0]]);
  let strSize = 1;
  for (const s of kept) {
    if (!names.has(s.name)) {
      names.set(s.name, strSize);
      strSize += Buffer.byteLength(s.name, 'latin1') + 1;
    }
  }
  const strtab = Buffer.alloc(strSize);
  for (const [n, o] of names) strtab.write(n, o, 'latin1');
  offsets.set(shstrndx, at);
  pieces.push({ bytes: strtab });
  at += strSize;
  const shoff = alignUp(at, 8);
  const table = Buffer.alloc(shoff - at + kept.length * SHDR);
  kept.forEach((s, i) => {
    const raw = Buffer.from(s.raw);
    elf.put32(raw, 0, names.get(s.name)!);
    const off = offsets.get(s.index);
    if (off !== undefined) elf.put64(raw, 24, off);
    if (s.index === shstrndx) elf.put64(raw, 32, strSize);
    elf.put32(raw, 40, newIndex.get(s.link) ?? 0);
    if (s.flags & SHF_INFO_LINK || s.type === SHT_REL || s.type === SHT_RELA) {
      elf.put32(raw, 44, newIndex.get(s.info) ?? 0);
    }
    raw.copy(table, shoff - at + i * SHDR);
  });
  pieces.push({ bytes: table });
  const header = Buffer.from(h);
  elf.put64(header, 40, shoff);
  elf.put16(header, 60, kept.length);
  elf.put16(header, 62, newIndex.get(shstrndx)!);
  pieces[0] = { bytes: header };
  const removed = sections.filter((s) => drop.has(s.index)).map((s) => ({ name: s.name, size: s.size }));
  return { pieces, inputSize: src.size, size: shoff + kept.length * SHDR, removed };
}

/**
 * The stripped file's bytes, from one pass over the input's bytes (which must be the bytes the
 * plan was made from: a store blob's verifying stream fails at its end otherwise).
 */
export async function* stripStream(plan: StripPlan, input: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  const it = input[Symbol.asyncIterator]();
  let pos = 0;
  let chunk: Buffer = Buffer.alloc(0);
  let chunkAt = 0;
  /** Input bytes [from, from+length); `from` is never before `pos` (the plan's ranges ascend). */
  async function* take(from: number, length: number): AsyncGenerator<Buffer> {
    const end = from + length;
    while (pos < end) {
      if (pos >= chunkAt + chunk.length) {
        const next = await it.next();
        if (next.done) throw new DistillError('ELF_INVALID', 'the ELF file ended before the strip was done');
        chunkAt += chunk.length;
        chunk = next.value;
      } else if (pos < from) {
        pos = Math.min(from, chunkAt + chunk.length);
      } else {
        const hi = Math.min(end, chunkAt + chunk.length);
        yield chunk.subarray(pos - chunkAt, hi - chunkAt);
        pos = hi;
      }
    }
  }
  for (const p of plan.pieces) {
    if ('bytes' in p) {
      if (p.bytes.length > 0) yield p.bytes;
    } else {
      yield* take(p.from, p.length);
    }
  }
  // Read the rest, so a verifying stream checks every byte.
  for (let next = await it.next(); !next.done; next = await it.next());
}

/** Strips an ELF file held in memory (tests, small files). */
export async function stripElfBuffer(buf: Buffer, name: string): Promise<{ bytes: Buffer; plan: StripPlan }> {
  const plan = await planStrip(bufferSource(buf), name);
  const parts: Buffer[] = [];
  const input = (async function* () {
    yield buf;
  })();
  for await (const b of stripStream(plan, input)) parts.push(b);
  return { bytes: Buffer.concat(parts), plan };
}
