import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { deflateChunkHere, libdeflateMemory } from '../../src/layers/libdeflate.js';
import { BLOCK_SIZE, crc32Js, gzipHeader, ParallelGzip, pgzip } from '../../src/layers/pgzip.js';

const hasGzip = spawnSync('gzip', ['--version']).status === 0;

/** Checks `gz` with the system gzip (integrity and content), when there is one. */
function systemGunzip(gz: Buffer, expected: Buffer): void {
  if (!hasGzip) return;
  execFileSync('gzip', ['-t'], { input: gz });
  const out = execFileSync('gzip', ['-dc'], { input: gz, maxBuffer: 1 << 30 });
  assert.ok(out.equals(expected), 'gzip -dc gives the input back');
}

function roundTrip(gz: Buffer, input: Buffer): void {
  assert.ok(zlib.gunzipSync(gz).equals(input), 'gunzipSync gives the input back');
  systemGunzip(gz, input);
}

/** Text-like bytes: words from a small vocabulary, as source code and logs compress. */
function textLike(size: number, seed = 1): Buffer {
  const words = [
    'const',
    'function',
    'return',
    'import',
    'export',
    'layer',
    'digest',
    'if',
    'else',
    '{',
    '}',
    '(',
    ')',
    ';',
    '\n',
    'await',
    'buffer',
    'stream',
  ];
  let s = seed >>> 0;
  const parts: string[] = [];
  let n = 0;
  while (n < size) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const w = `${words[s % words.length]} `;
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, size);
}

/** Alternating runs of compressible and random bytes. */
function mixed(size: number): Buffer {
  const out = Buffer.alloc(size);
  let off = 0;
  let i = 0;
  while (off < size) {
    const run = Math.min(size - off, 100_000 + ((i * 37_813) % 300_000));
    const part = i % 2 === 0 ? textLike(run, i) : randomBytes(run);
    part.copy(out, off);
    off += run;
    i++;
  }
  return out;
}

test('the header is the one build.ts wrote with zlib (OS byte 255)', () => {
  for (let level = 0; level <= 9; level++) {
    const z = Buffer.from(zlib.gzipSync(Buffer.from('x'), { level }).subarray(0, 10));
    z[9] = 0xff;
    assert.deepEqual(gzipHeader(level), z, `level ${level}`);
  }
});

test('a sync-flushed raw deflate block is not final and ends with an empty stored block', () => {
  const out = zlib.deflateRawSync(textLike(10_000), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual([...out.subarray(-4)], [0, 0, 0xff, 0xff]);
  assert.equal((out[0] as number) & 1, 0, 'BFINAL of the first block is clear');
});

test('round trips at the edges of the block size', async () => {
  const cases: [string, Buffer][] = [
    ['empty', Buffer.alloc(0)],
    ['1 byte', Buffer.from([0x42])],
    ['one block', mixed(BLOCK_SIZE)],
    ['one block + 1', mixed(BLOCK_SIZE + 1)],
    ['two blocks', textLike(2 * BLOCK_SIZE)],
    ['several MB mixed', mixed(5 * BLOCK_SIZE + 12_345)],
  ];
  for (const [name, input] of cases) {
    const gz = await pgzip(input);
    assert.ok(gz.subarray(0, 10).equals(gzipHeader(6)), name);
    roundTrip(gz, input);
  }
});

test('every level round trips', async () => {
  const input = mixed(BLOCK_SIZE + 4096);
  for (let level = 0; level <= 9; level++) roundTrip(await pgzip(input, { level }), input);
});

test('output does not depend on timing, chunking or blocks in flight', async () => {
  const input = mixed(3 * BLOCK_SIZE + 777);
  const a = await pgzip(input);
  const b = await pgzip(input);
  assert.ok(a.equals(b), 'two runs give the same bytes');
  for (const inFlight of [1, 2, 7]) {
    const chunks: Buffer[] = [];
    for (let off = 0, i = 0; off < input.length; i++) {
      const n = [1, 65_536, 333_333, BLOCK_SIZE][i % 4] as number;
      chunks.push(input.subarray(off, off + n));
      off += n;
    }
    const parts: Buffer[] = [];
    const z = new ParallelGzip({ inFlight });
    z.on('data', (d: Buffer) => parts.push(d));
    await pipeline(Readable.from(chunks), z);
    assert.ok(Buffer.concat(parts).equals(a), `inFlight ${inFlight}, odd chunks`);
  }
});

test('random sizes and contents round trip', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 2 * BLOCK_SIZE + 4096 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      fc.integer({ min: 0, max: 9 }),
      async (size, seed, level) => {
        const input =
          seed % 3 === 0 ? randomBytes(size) : seed % 3 === 1 ? textLike(size, seed) : mixed(size);
        const gz = await pgzip(input, { level });
        assert.ok(zlib.gunzipSync(gz).equals(input));
        if (size % 7 === 0) systemGunzip(gz, input);
      },
    ),
    { numRuns: 25 },
  );
});

test('blocks cost under 0.5 % against one libdeflate stream, and beat zlib on a binary', async () => {
  const input = mixed(3 * BLOCK_SIZE + 1000);
  const one = 18 + (await deflateChunkHere(input, 6, true)).length;
  const ours = (await pgzip(input, { level: 6 })).length;
  assert.ok(ours / one < 1.005, `pgzip ${ours} vs one stream ${one} bytes (${(ours / one).toFixed(4)})`);
  // The Node binary running this test: machine code, like the Node layer that is most of an image.
  const bin = readFileSync(process.execPath).subarray(0, 2 * BLOCK_SIZE + 12_345);
  const zl = zlib.gzipSync(bin, { level: 6 }).length;
  const ld = (await pgzip(bin, { level: 6 })).length;
  assert.ok(ld < zl, `libdeflate ${ld} vs zlib ${zl} bytes on ${process.execPath}`);
});

const native = (zlib as unknown as { crc32?: (d: Uint8Array) => number }).crc32;

test('CRC-32 (table-driven, and zlib.crc32 when present) matches the trailer of zlib gzip', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 5000 }),
      fc.integer({ min: 0, max: 5000 }),
      (data, cut) => {
        const buf = Buffer.from(data);
        const gz = zlib.gzipSync(buf);
        const expected = gz.readUInt32LE(gz.length - 8);
        assert.equal(crc32Js(buf), expected);
        if (native) assert.equal(native(buf) >>> 0, expected, 'zlib.crc32');
        const k = Math.min(cut, buf.length);
        assert.equal(crc32Js(buf.subarray(k), crc32Js(buf.subarray(0, k))), expected, 'incremental');
      },
    ),
    { numRuns: 200 },
  );
  const big = randomBytes(3 * BLOCK_SIZE + 5);
  const gz = zlib.gzipSync(big, { level: 1 });
  assert.equal(crc32Js(big), gz.readUInt32LE(gz.length - 8));
});

test('the trailer holds the CRC and the size of the input', async () => {
  const input = mixed(2 * BLOCK_SIZE + 99);
  const gz = await pgzip(input);
  const plain = zlib.gzipSync(input);
  assert.ok(gz.subarray(-8).equals(plain.subarray(-8)));
});

test('an input of at most one block is one libdeflate stream, compressed in this thread', async () => {
  for (const input of [Buffer.alloc(0), textLike(98_304), mixed(BLOCK_SIZE)]) {
    const expected = Buffer.concat([
      gzipHeader(6),
      await deflateChunkHere(input, 6, true),
      zlib.gzipSync(input).subarray(-8),
    ]);
    const before = libdeflateMemory().workers.length;
    assert.ok((await pgzip(input)).equals(expected));
    assert.equal(libdeflateMemory().workers.length, before, 'no thread was started');
  }
});
