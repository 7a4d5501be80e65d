import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { TarReader } from '../../src/layers/read.js';
import { octal, paxHeader, paxRecord, TAR_END, tarBlock, tarData, tarFile } from '../helpers/tar-blocks.js';
import { readAll, within } from './helpers.js';

/**
 * Hostile tars against the one tar reader (tar-reader.ts): every value that could make it step
 * back, stand still, allocate what no archive holds or lose its place is refused with
 * LAYER_INVALID (or the code its caller asks for), and every read ends.
 */

const read = (tar: Buffer, chunk = 512) => {
  const parts: Buffer[] = [];
  for (let i = 0; i < tar.length; i += chunk) parts.push(tar.subarray(i, i + chunk));
  return within(10_000, 'reading the tar', readAll(Readable.from(parts), 'none'));
};

const refused = (what: RegExp) => (err: unknown) => {
  assert.ok(isDistillError(err, 'LAYER_INVALID'), `expected LAYER_INVALID, got ${String(err)}`);
  assert.match(err.message, what);
  return true;
};

/** A base-256 size field: 0x80 (or 0xff for negative) and 11 bytes, big-endian. */
function base256(bytes: number[], negative = false): Buffer {
  const b = Buffer.alloc(12, negative ? 0xff : 0);
  b[0] = negative ? 0xff : 0x80;
  Buffer.from(bytes).copy(b, 12 - bytes.length);
  return b;
}

test('sizes: negative base-256, past 2^53, and unreadable octal are refused', async () => {
  for (const [label, size] of [
    ['negative base-256', base256([0xfe, 0x00], true)],
    ['base-256 past 2^53', base256([0x40, 0, 0, 0, 0, 0, 0, 0])],
    ['octal that is not octal', '  abc      \0'],
  ] as const) {
    const tar = Buffer.concat([tarBlock({ name: 'f', size }), tarData('x'), TAR_END]);
    await assert.rejects(read(tar), refused(/size field/), label);
    // the same size on a long name or PAX header
    const long = Buffer.concat([
      tarBlock({ name: '././@LongLink', flag: 'L', size }),
      tarFile('f', 'x'),
      TAR_END,
    ]);
    await assert.rejects(read(long), refused(/size field/), `${label} (GNU long name)`);
  }
  // base-256 that is big but safe is a size like any other (a cut tar here)
  await assert.rejects(
    read(Buffer.concat([tarBlock({ name: 'f', size: base256([1, 0, 0, 0, 0]) }), TAR_END])),
    refused(/truncated/),
  );
});

test('PAX size: negative, not decimal, or past 2^53 is refused where the record is read', async () => {
  for (const value of ['-512', '1e3', '12abc', ' 12', '', '99999999999999999999', '0x10']) {
    const tar = Buffer.concat([paxHeader(paxRecord('size', value)), tarFile('f', 'x'), TAR_END]);
    await assert.rejects(read(tar), refused(/PAX header at byte 0 has size=/), JSON.stringify(value));
  }
  // a good one is applied
  const ok = Buffer.concat([
    paxHeader(paxRecord('size', '3')),
    tarBlock({ name: 'f', size: 1 }),
    tarData('abc'),
    TAR_END,
  ]);
  const [e] = await read(ok);
  assert.equal(e?.content.toString(), 'abc');
});

test('PAX uid, gid and mtime that are not numbers are refused', async () => {
  for (const [key, value] of [
    ['uid', '-1'],
    ['gid', 'root'],
    ['mtime', 'yesterday'],
    ['mtime', ''],
  ]) {
    const tar = Buffer.concat([paxHeader(paxRecord(key!, value!)), tarFile('f', 'x'), TAR_END]);
    await assert.rejects(read(tar), refused(new RegExp(`${key}=`)), `${key}=${value}`);
  }
});

test('PAX records whose length is 0, not decimal, past the data or without a newline are refused', async () => {
  for (const records of [
    '0 a=b\n', // a length of 0 never moves on
    '-5 a=b\n',
    'x5 a=b\n',
    '99 path=a\n', // past the data
    '10 path=ab', // no newline (and past the data)
    '9 path=ab.', // the last byte is not a newline
    '6 =ab\n', // no key
    '8 patha\n', // no =
    '3 \n',
  ]) {
    const tar = Buffer.concat([paxHeader(records), tarFile('f', 'x'), TAR_END]);
    await assert.rejects(
      read(tar),
      refused(/PAX header at byte 0 has a (malformed record|record without a key)/),
      JSON.stringify(records),
    );
  }
  // NULs after the last record end the records
  const padded = Buffer.concat([
    paxHeader(`${paxRecord('path', 'long/name')}\0\0\0`),
    tarFile('f', 'x'),
    TAR_END,
  ]);
  assert.equal((await read(padded))[0]?.header.name, 'long/name');
});

test('a PAX global header is kept for the entries after it (merged into their own records)', async () => {
  const tar = Buffer.concat([
    paxHeader(paxRecord('comment', 'global'), 'g'),
    tarFile('plain', 'a'),
    paxHeader(paxRecord('uid', '5')),
    tarFile('own', 'b'),
    TAR_END,
  ]);
  const got = await read(tar);
  assert.deepEqual(
    got.map((e) => [e.header.name, e.header.uid, e.header.pax]),
    [
      ['plain', 0, null],
      ['own', 5, { comment: 'global', uid: '5' }],
    ],
  );
});

test('GNU long names: over 4 MiB is refused, a cut one is truncated, the name applies to the next entry', async () => {
  const big = Buffer.concat([
    tarBlock({ name: '././@LongLink', flag: 'L', size: 4 * 1024 * 1024 + 1 }),
    TAR_END,
  ]);
  await assert.rejects(read(big), refused(/over the limit/));
  const cut = Buffer.concat([
    tarBlock({ name: '././@LongLink', flag: 'L', size: 2000 }),
    tarData('x'.repeat(600)),
  ]);
  await assert.rejects(read(cut), refused(/truncated/));
  const name = `${'d/'.repeat(100)}file`;
  const ok = Buffer.concat([
    tarBlock({ name: '././@LongLink', flag: 'L', size: name.length + 1, magic: 'gnu' }),
    tarData(`${name}\0`),
    tarFile('short', 'content'),
    TAR_END,
  ]);
  assert.equal((await read(ok))[0]?.header.name, name);
});

test('old GNU sparse headers: their extension blocks are skipped, the entry reads as unknown, the next entry is found', async () => {
  // isextended at 482 in the header, then two extension blocks (the first with isextended at 504)
  const ext1 = Buffer.alloc(512);
  ext1[504] = 1;
  const ext2 = Buffer.alloc(512);
  const tar = Buffer.concat([
    tarBlock({
      name: 'sparse',
      flag: 'S',
      size: 5,
      magic: 'gnu',
      poke: [{ at: 482, bytes: Buffer.from([1]) }],
    }),
    ext1,
    ext2,
    tarData('12345'),
    tarFile('after', 'ok'),
    TAR_END,
  ]);
  for (const chunk of [1, 512, 4096]) {
    const got = await read(tar, chunk);
    assert.deepEqual(
      got.map((e) => [e.header.name, e.header.type, e.content.toString()]),
      [
        ['sparse', 'unknown', '12345'],
        ['after', 'file', 'ok'],
      ],
    );
  }
  // cut inside the extension blocks
  await assert.rejects(
    read(tar.subarray(0, 1024 + 100)),
    refused(/truncated: it ends inside the sparse map/),
  );
  // PAX sparse records mark the entry unknown (its content is a map and pieces, not the file)
  const pax = Buffer.concat([
    paxHeader(paxRecord('GNU.sparse.major', '1') + paxRecord('GNU.sparse.minor', '0')),
    tarFile('s', 'map'),
    TAR_END,
  ]);
  assert.equal((await read(pax))[0]?.header.type, 'unknown');
});

test('a header that claims more than the input holds is truncated, whatever it claims', async () => {
  for (const size of [600, 10 * 1024 * 1024, 2 ** 40]) {
    const tar = Buffer.concat([
      tarBlock({ name: 'f', size: size < 8 ** 11 ? size : base256([1, 0, 0, 0, 0, 0]) }),
      tarData('x'),
    ]);
    await assert.rejects(read(tar), refused(/truncated/), `size ${size}`);
  }
});

test('an archive of nothing but PAX headers of size 0 and zero blocks ends (every step moves on)', async () => {
  const empty = tarBlock({ name: 'pax', flag: 'x', size: 0 });
  const tar = Buffer.concat([...Array.from({ length: 2000 }, () => empty), TAR_END, TAR_END]);
  assert.deepEqual(await read(tar, 4096), []);
  const globals = Buffer.concat([
    ...Array.from({ length: 500 }, () => paxHeader(paxRecord('a', 'b'), 'g')),
    TAR_END,
  ]);
  assert.deepEqual(await read(globals, 4096), []);
});

test('cut anywhere, a tar is truncated or ends cleanly between entries, never a crash', async () => {
  const tar = Buffer.concat([
    paxHeader(paxRecord('path', 'p'.repeat(200))),
    tarFile('ignored', 'x'.repeat(1500)),
    tarBlock({ name: '././@LongLink', flag: 'L', size: 301 }),
    tarData(`${'l'.repeat(300)}\0`),
    tarFile('x', 'y'),
    TAR_END,
  ]);
  for (let cut = 0; cut <= tar.length; cut += 97) {
    await read(tar.subarray(0, cut), 200).then(
      (entries) => assert.ok(entries.length <= 2),
      refused(/truncated/),
    );
  }
});

test('positional input: contents are skipped by seeking, position gives where each content starts, stopAtEnd stops at the marker', async () => {
  const tar = Buffer.concat([
    tarFile('a', 'x'.repeat(100_000)),
    tarFile('b', 'bee'),
    TAR_END,
    Buffer.from('after the end'),
  ]);
  const reads: number[] = [];
  const reader = new TarReader(
    {
      size: tar.length,
      read: async (buf, position, length) => {
        reads.push(position);
        return tar.copy(buf, 0, position, position + length);
      },
    },
    { stopAtEnd: true, code: 'ARCHIVE_INVALID' },
  );
  const seen: [string, number][] = [];
  for (let h = await reader.next(); h !== null; h = await reader.next()) seen.push([h.name, reader.position]);
  assert.deepEqual(seen, [
    ['a', 512],
    ['b', 512 + 100_352 + 512],
  ]);
  assert.ok(reader.endMarker);
  assert.ok(!reads.some((p) => p > 0 && p < 65_536), 'the content of a past the first chunk was not read');
  // the same tar without its end marker, and one that claims more than the file holds
  const noEnd = new TarReader(
    { size: 1024 + 512, read: async (b, p, l) => tar.copy(b, 0, p, p + l) },
    { stopAtEnd: true },
  );
  await assert.rejects(
    async () => {
      for (let h = await noEnd.next(); h !== null; h = await noEnd.next());
    },
    refused(/truncated: it ends inside what runs to byte/),
  );
  const claims = Buffer.concat([tarBlock({ name: 'big', size: 1_000_000 }), TAR_END]);
  const r = new TarReader(
    { size: claims.length, read: async (b, p, l) => claims.copy(b, 0, p, p + l) },
    { code: 'ARCHIVE_INVALID', truncatedCode: 'ARCHIVE_TRUNCATED' },
  );
  assert.equal((await r.next())?.size, 1_000_000);
  await assert.rejects(r.next(), (e: unknown) => isDistillError(e, 'ARCHIVE_TRUNCATED'));
});

test('errors name what is read and carry the code asked for', async () => {
  const reader = new TarReader(Readable.from([Buffer.from('not a tar'.repeat(100))]), {
    what: 'the thing',
    code: 'DEB_INVALID',
  });
  await assert.rejects(reader.next(), (e: unknown) => {
    assert.ok(isDistillError(e, 'DEB_INVALID'));
    assert.match(e.message, /^the thing is corrupt: bad tar header checksum at byte 0/);
    return true;
  });
  assert.equal(octal(8), '00000000010 ');
});
