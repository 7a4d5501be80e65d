import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readElf } from '../../src/build/app/elf.js';
import { isDistillError } from '../../src/errors.js';
import { within } from '../layers/helpers.js';

/**
 * Hostile ELF files for the native addon check (build/app/elf.ts): offsets and sizes past the end
 * of the file, counts that overflow, chains that loop, strings without end. Each is
 * NATIVE_ADDON_INVALID within a second or two, never a crash or a hang.
 */

interface Dyn {
  tag: number;
  val: number;
}

/**
 * A little-endian ELF64 shared object written by hand: the header, program headers (one PT_LOAD
 * over the whole file and one PT_DYNAMIC), the dynamic section, then `tail` (string table and
 * whatever else), all at virtual address = file offset.
 */
function elf64(opts: {
  dyn: (tailAt: number) => Dyn[];
  tail: Buffer;
  phnum?: number;
  phentsize?: number;
  phoff?: bigint;
}): Buffer {
  const ph = 2;
  const dynAt = 64 + ph * 56;
  const dynCount = opts.dyn(0).length;
  const tailAt = dynAt + dynCount * 16;
  const dyn = opts.dyn(tailAt);
  const size = tailAt + opts.tail.length;
  const b = Buffer.alloc(size);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0);
  b.writeUInt16LE(3, 16); // ET_DYN
  b.writeUInt16LE(62, 18); // x86-64
  b.writeBigUInt64LE(opts.phoff ?? 64n, 32);
  b.writeUInt16LE(opts.phentsize ?? 56, 54);
  b.writeUInt16LE(opts.phnum ?? ph, 56);
  const seg = (i: number, type: number, offset: number, filesz: number) => {
    const o = 64 + i * 56;
    b.writeUInt32LE(type, o);
    b.writeBigUInt64LE(BigInt(offset), o + 8);
    b.writeBigUInt64LE(BigInt(offset), o + 16);
    b.writeBigUInt64LE(BigInt(filesz), o + 32);
  };
  seg(0, 1, 0, size); // PT_LOAD
  seg(1, 2, dynAt, dyn.length * 16); // PT_DYNAMIC
  dyn.forEach((d, i) => {
    b.writeBigUInt64LE(BigInt(d.tag), dynAt + i * 16);
    b.writeBigUInt64LE(BigInt(d.val), dynAt + i * 16 + 8);
  });
  opts.tail.copy(b, tailAt);
  return b;
}

const DT_NEEDED = 1;
const DT_STRTAB = 5;
const DT_STRSZ = 10;
const DT_VERNEED = 0x6ffffffe;

const invalid = (what: RegExp) => (err: unknown) => {
  assert.ok(isDistillError(err, 'NATIVE_ADDON_INVALID'), `expected NATIVE_ADDON_INVALID, got ${String(err)}`);
  assert.match(err.message, what);
  return true;
};

const read = (b: Buffer) => within(5_000, 'reading the ELF file', readElf(b, 'hostile.node'));

test('the hand-made ELF reads (the builder is right)', async () => {
  const strtab = Buffer.from('\0libc.so.6\0');
  const info = await read(
    elf64({
      tail: strtab,
      dyn: (at) => [
        { tag: DT_NEEDED, val: 1 },
        { tag: DT_STRTAB, val: at },
        { tag: DT_STRSZ, val: strtab.length },
        { tag: 0, val: 0 },
      ],
    }),
  );
  assert.deepEqual(info.needed, ['libc.so.6']);
});

test('a string table of 8 MiB without a NUL, named by 60,000 DT_NEEDED entries, fails at once', async () => {
  // Each lookup used to scan to the end of the table: 60,000 x 8 MiB.
  const strtab = Buffer.alloc(8 * 1024 * 1024, 0x61);
  strtab[strtab.length - 1] = 0;
  const started = Date.now();
  await assert.rejects(
    read(
      elf64({
        tail: strtab,
        dyn: (at) => [
          ...Array.from({ length: 60_000 }, (_, i) => ({ tag: DT_NEEDED, val: i })),
          { tag: DT_STRTAB, val: at },
          { tag: DT_STRSZ, val: strtab.length },
          { tag: 0, val: 0 },
        ],
      }),
    ),
    invalid(/its string is over 16384 bytes/),
  );
  assert.ok(Date.now() - started < 3_000);
});

test('version needs whose entries point back at themselves stop at the segment, not loop', async () => {
  // One Verneed with vn_cnt 65535 and a Vernaux whose vna_next is 0: the same entry forever.
  const strtab = Buffer.from('\0libc.so.6\0GLIBC_2.2.5\0');
  const verneed = Buffer.alloc(32);
  verneed.writeUInt16LE(1, 0); // vn_version
  verneed.writeUInt16LE(0xffff, 2); // vn_cnt
  verneed.writeUInt32LE(1, 4); // vn_file
  verneed.writeUInt32LE(16, 8); // vn_aux
  verneed.writeUInt32LE(0, 12); // vn_next
  verneed.writeUInt32LE(11, 16 + 8); // vna_name
  verneed.writeUInt32LE(0, 16 + 12); // vna_next: 0
  const tail = Buffer.concat([strtab, verneed]);
  await assert.rejects(
    read(
      elf64({
        tail,
        dyn: (at) => [
          { tag: DT_STRTAB, val: at },
          { tag: DT_STRSZ, val: strtab.length },
          { tag: DT_VERNEED, val: at + strtab.length },
          { tag: 0, val: 0 },
        ],
      }),
    ),
    invalid(/version needs run past their segment/),
  );
});

test('offsets and counts past the file: program headers, dynamic section, string table', async () => {
  const base = { tail: Buffer.from('\0'), dyn: () => [{ tag: 0, val: 0 }] };
  await assert.rejects(read(elf64({ ...base, phoff: 2n ** 63n })), invalid(/program headers past the end/));
  await assert.rejects(
    read(elf64({ ...base, phnum: 0xffff, phentsize: 0xffff })),
    invalid(/program headers past the end/),
  );
  await assert.rejects(read(elf64({ ...base, phentsize: 8 })), invalid(/program header entries of 8 bytes/));
  await assert.rejects(
    read(
      elf64({
        tail: Buffer.from('\0'),
        dyn: (at) => [
          { tag: DT_STRTAB, val: at },
          { tag: DT_STRSZ, val: 2 ** 40 },
          { tag: DT_NEEDED, val: 0 },
          { tag: 0, val: 0 },
        ],
      }),
    ),
    invalid(/string table runs past its segment/),
  );
  await assert.rejects(
    read(
      elf64({
        tail: Buffer.from('\0'),
        dyn: () => [
          { tag: DT_STRTAB, val: 2 ** 50 },
          { tag: DT_STRSZ, val: 1 },
          { tag: DT_NEEDED, val: 0 },
          { tag: 0, val: 0 },
        ],
      }),
    ),
    invalid(/outside every loaded segment/),
  );
  await assert.rejects(
    read(
      elf64({
        tail: Buffer.from('\0'),
        dyn: (at) => [
          { tag: DT_STRTAB, val: at },
          { tag: DT_STRSZ, val: 1 },
          { tag: DT_NEEDED, val: 5 },
          { tag: 0, val: 0 },
        ],
      }),
    ),
    invalid(/string offset 5 is outside the dynamic string table/),
  );
  await assert.rejects(
    read(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 3, 1])),
    invalid(/header past the end|unknown class/),
  );
});
