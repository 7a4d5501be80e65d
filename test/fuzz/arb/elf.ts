import fc from 'fast-check';
import { applyMutations, mutationsArb } from './mutate.js';

/**
 * ELF files as the native addon check reads them: header (either class and byte order), program
 * headers (PT_LOAD, PT_DYNAMIC, PT_INTERP and others, with offsets and sizes in range, at the edge
 * or far past it), a dynamic section (DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME, DT_RPATH,
 * DT_RUNPATH, DT_VERNEED, DT_VERNEEDNUM, DT_NULL and unknown tags), a string table and version
 * need entries whose offsets chain anywhere; then byte damage.
 */

/** An offset or size: usually right, sometimes at the edge, past the file or past 2^53. */
const placeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant('right' as const) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('zero' as const, 'edge' as const, 'past' as const, 'huge' as const),
  },
);

type Place = 'right' | 'zero' | 'edge' | 'past' | 'huge';

function place(p: Place, right: number, fileSize: number): bigint {
  switch (p) {
    case 'right':
      return BigInt(right);
    case 'zero':
      return 0n;
    case 'edge':
      return BigInt(fileSize);
    case 'past':
      return BigInt(fileSize + 4096);
    case 'huge':
      return 2n ** 63n + 5n;
  }
}

const TAGS = [0, 1, 5, 10, 14, 15, 29, 0x6ffffffe, 0x6fffffff, 12, 0x70000001];

const dynArb = fc.array(
  fc.record({
    tag: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...TAGS) }, { weight: 1, arbitrary: fc.nat() }),
    val: fc.oneof(fc.nat({ max: 64 }), placeArb),
  }),
  { maxLength: 10 },
);

const verneedArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.nat({ max: 64 })), {
  maxLength: 8,
});

export const elfArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    is64: fc.boolean(),
    le: fc.boolean(),
    phnum: fc.oneof(fc.constantFrom(0, 1, 2, 3), fc.constantFrom(0xffff, 100)),
    phentsizeRight: fc.boolean(),
    segs: fc.array(
      fc.record({ type: fc.constantFrom(1, 2, 3, 6, 0x6474e551), offset: placeArb, filesz: placeArb }),
      { minLength: 3, maxLength: 3 },
    ),
    dyn: dynArb,
    strtab: fc.oneof(
      fc.constant('\0libc.so.6\0libm.so.6\0GLIBC_2.34\0$ORIGIN\0'),
      fc.string({ maxLength: 60 }),
    ),
    verneed: verneedArb,
    mutations: mutationsArb(3),
  })
  .map((e) => {
    const hdr = e.is64 ? 64 : 52;
    const phent = e.is64 ? 56 : 32;
    const dynEnt = e.is64 ? 16 : 8;
    const phAt = hdr;
    const dynAt = phAt + 3 * phent;
    const strAt = dynAt + e.dyn.length * dynEnt;
    const strtab = Buffer.from(e.strtab);
    const vnAt = strAt + strtab.length;
    const size = vnAt + e.verneed.length * 16;
    const b = Buffer.alloc(size);
    const u16 = (v: number, o: number) =>
      e.le ? b.writeUInt16LE(v & 0xffff, o) : b.writeUInt16BE(v & 0xffff, o);
    const u32 = (v: number, o: number) => (e.le ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o));
    const word = (v: bigint, o: number) => {
      if (e.is64)
        e.le ? b.writeBigUInt64LE(v & (2n ** 64n - 1n), o) : b.writeBigUInt64BE(v & (2n ** 64n - 1n), o);
      else u32(Number(v & 0xffffffffn), o);
    };
    b.set([0x7f, 0x45, 0x4c, 0x46, e.is64 ? 2 : 1, e.le ? 1 : 2, 1], 0);
    u16(3, 16);
    u16(e.is64 ? 62 : 3, 18);
    word(BigInt(phAt), e.is64 ? 32 : 28);
    u16(e.phentsizeRight ? phent : 8, e.is64 ? 54 : 42);
    u16(e.phnum, e.is64 ? 56 : 44);
    const rights: [number, number][] = [
      [0, size],
      [dynAt, e.dyn.length * dynEnt],
      [strAt, strtab.length],
    ];
    e.segs.forEach((s, i) => {
      const o = phAt + i * phent;
      const [off, len] = rights[i]!;
      u32(i === 0 ? 1 : i === 1 ? 2 : s.type, o);
      word(place(s.offset, off, size), o + (e.is64 ? 8 : 4));
      word(place(s.offset, off, size), o + (e.is64 ? 16 : 8));
      word(place(s.filesz, len, size), o + (e.is64 ? 32 : 16));
    });
    e.dyn.forEach((d, i) => {
      const o = dynAt + i * dynEnt;
      const right = d.tag === 5 ? strAt : d.tag === 10 ? strtab.length : d.tag === 0x6ffffffe ? vnAt : 0;
      word(BigInt(d.tag), o);
      word(
        typeof d.val === 'number'
          ? BigInt(d.tag === 5 || d.tag === 0x6ffffffe ? right + d.val : d.val)
          : place(d.val, right, size),
        o + dynEnt / 2,
      );
    });
    strtab.copy(b, strAt);
    e.verneed.forEach(([cnt, next], i) => {
      const o = vnAt + i * 16;
      u16(1, o);
      u16(cnt, o + 2);
      u32(1, o + 4);
      u32(16, o + 8);
      u32(next, o + 12);
    });
    return applyMutations(b, e.mutations);
  });
