import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { buildLayer } from '../../src/layers/build.js';
import { readLayer } from '../../src/layers/read.js';
import { tempDirFor, tempStore } from './helpers.js';

const SIZE = 200 * 1024 * 1024;
const BLOCK = 64 * 1024;

/**
 * Deterministic, sparse-ish content: mostly zeros, with a counter and a run of varying bytes in
 * every 64 KiB block (so a bug that drops, repeats or reorders blocks changes the hash).
 */
function* content(): Generator<Buffer> {
  for (let off = 0, i = 0; off < SIZE; off += BLOCK, i++) {
    const b = Buffer.alloc(Math.min(BLOCK, SIZE - off));
    b.writeUInt32BE(i, 0);
    for (let j = 4; j < 1024; j++) b[j] = (i * 131 + j * 7) & 0xff;
    yield b;
  }
}

test('a 200 MB file is built with bounded memory', { timeout: 300_000 }, async (t) => {
  const dir = await tempDirFor(t);
  const store = await tempStore(t);
  const path = join(dir, 'big.bin');
  const want = createHash('sha256');
  await pipeline(
    Readable.from(
      (function* () {
        for (const b of content()) {
          want.update(b);
          yield b;
        }
      })(),
    ),
    createWriteStream(path),
  );
  const wantHex = want.digest('hex');

  global.gc?.();
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  let layer: Awaited<ReturnType<typeof buildLayer>>;
  try {
    layer = await buildLayer(
      [
        { type: 'file', path: '/data/big.bin', source: { kind: 'path', path } },
        { type: 'file', path: '/data/small.txt', source: { kind: 'bytes', bytes: Buffer.from('small') } },
      ],
      { store },
    );
  } finally {
    clearInterval(timer);
  }
  peak = Math.max(peak, process.memoryUsage().rss);
  const growth = peak - before;
  t.diagnostic(
    `rss before ${Math.round(before / 1048576)} MiB, peak growth ${Math.round(growth / 1048576)} MiB`,
  );
  assert.ok(growth < 100 * 1024 * 1024, `rss grew by ${Math.round(growth / 1048576)} MiB during the build`);
  // data/ header, big.bin header + content, small.txt header + padded content, end of archive
  assert.equal(layer.uncompressedSize, 512 + (512 + SIZE) + (512 + 512) + 1024);

  // The content comes back intact.
  const got = createHash('sha256');
  let size = 0;
  for await (const { header, body } of readLayer(await layer.open())) {
    if (header.name !== 'data/big.bin') continue;
    assert.equal(header.size, SIZE);
    for await (const c of body) {
      got.update(c as Buffer);
      size += (c as Buffer).length;
    }
  }
  assert.equal(size, SIZE);
  assert.equal(got.digest('hex'), wantHex);
});
