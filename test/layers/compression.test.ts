import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { DistillError, isDistillError } from '../../src/errors.js';
import { decompressLayer, detectCompression } from '../../src/layers/compression.js';
import { FrameGuard, MAX_ZSTD_WINDOW } from '../../src/layers/zstd.js';
import { requireComponents } from '../helpers/components.js';
import { pseudoRandomBytes } from '../helpers/images.js';
import { streamBytes, tempDirFor, within } from './helpers.js';

/**
 * The framing of each compression distill reads (compression.ts): what a stream may hold around
 * its data (several members or frames, padding, trailing bytes), what a cut stream gives, and
 * the limits on what a small input can make the decompressor do.
 */

const layerInvalid = (what: RegExp) => (err: unknown) => {
  assert.ok(isDistillError(err, 'LAYER_INVALID'), `expected LAYER_INVALID, got ${String(err)}`);
  assert.match(err.message, what);
  return true;
};

const inflate = (bytes: Buffer, compression?: 'gzip' | 'zstd' | 'xz' | 'none') =>
  within(20_000, 'decompressing', decompressLayer(Readable.from([bytes]), compression).then(streamBytes));

const DATA = pseudoRandomBytes(300_000, 5);

test('detectCompression knows gzip, zstd and xz by their magic bytes', () => {
  assert.equal(detectCompression(zlib.gzipSync(DATA)), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0])), 'zstd');
  assert.equal(detectCompression(Buffer.from([0x5e, 0x2a, 0x4d, 0x18, 0])), 'zstd', 'a skippable frame');
  assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
  assert.equal(detectCompression(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a])), 'none', 'a cut xz magic');
  assert.equal(detectCompression(Buffer.alloc(512)), 'none');
});

test('gzip: several members are read in turn, NUL padding after them is ignored, other trailing bytes fail', async () => {
  const a = zlib.gzipSync(DATA.subarray(0, 1000));
  const b = zlib.gzipSync(DATA.subarray(1000));
  assert.ok((await inflate(Buffer.concat([a, b]))).equals(DATA));
  assert.ok((await inflate(Buffer.concat([a, b, Buffer.alloc(4096)]))).equals(DATA));
  await assert.rejects(inflate(Buffer.concat([a, Buffer.from('trailing garbage')])), layerInvalid(/corrupt/));
});

test('gzip: a stream cut anywhere is a truncated layer', async () => {
  const gz = zlib.gzipSync(DATA);
  for (const cut of [1, 5, 10, 11, 100, gz.length >> 1, gz.length - 8, gz.length - 1]) {
    await assert.rejects(
      inflate(gz.subarray(0, cut), 'gzip'),
      layerInvalid(/truncated|corrupt/),
      `cut at ${cut}`,
    );
  }
  await assert.rejects(
    inflate(gz.subarray(0, gz.length >> 1)),
    layerInvalid(/is truncated: .*unexpected end/),
  );
});

test('zstd: frames made by the zstd tool at several levels and windows, skippable frames, checksums', async (t) => {
  if (!requireComponents(t, 'zstd')) return;
  const dir = await tempDirFor(t);
  await writeFile(join(dir, 'data'), DATA);
  for (const args of [['-1'], ['-19', '--check'], ['--ultra', '-22'], ['--long=27'], ['--no-check', '-3']]) {
    const zst = execFileSync('zstd', ['-q', '-c', ...args, join(dir, 'data')]);
    assert.ok((await inflate(zst)).equals(DATA), args.join(' '));
  }
  // A skippable frame (magic 0x184D2A5?, 4-byte length, data) before and after a frame.
  const skippable = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0]), Buffer.from('abc')]);
  const zst = execFileSync('zstd', ['-q', '-c', join(dir, 'data')]);
  assert.ok((await inflate(Buffer.concat([skippable, zst, skippable]))).equals(DATA));
  // Two frames.
  assert.ok((await inflate(Buffer.concat([zst, zst]))).equals(Buffer.concat([DATA, DATA])));
});

test('zstd: a cut stream is truncated, trailing bytes after the last frame are corrupt', async (t) => {
  if (!requireComponents(t, 'zstd')) return;
  const dir = await tempDirFor(t);
  await writeFile(join(dir, 'data'), DATA);
  const zst = execFileSync('zstd', ['-q', '-c', '--check', join(dir, 'data')]);
  for (const cut of [4, 5, 6, 9, 100, zst.length >> 1, zst.length - 4, zst.length - 1]) {
    await assert.rejects(
      inflate(zst.subarray(0, cut), 'zstd'),
      layerInvalid(/truncated|corrupt/),
      `cut at ${cut}`,
    );
  }
  await assert.rejects(inflate(Buffer.concat([zst, Buffer.from('trailing')])), layerInvalid(/corrupt/));
});

test('zstd: a window over 128 MiB is refused before anything is allocated', async (t) => {
  if (!requireComponents(t, 'zstd')) return;
  const dir = await tempDirFor(t);
  await writeFile(join(dir, 'data'), DATA);
  // zstd sizes the window to the input: 300 MB of zeros keeps --long=28's 256 MiB.
  const zst = execFileSync('sh', ['-c', 'head -c 300000000 /dev/zero | zstd -q -c --long=28'], {
    maxBuffer: 1 << 26,
  });
  await assert.rejects(inflate(zst), layerInvalid(/window|memory/i));
  // Written by hand: a frame header declaring a 2 GiB window (window descriptor 0xa8: 2^31).
  const header = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa8]);
  await assert.rejects(
    inflate(Buffer.concat([header, Buffer.from([1, 0, 0])])),
    layerInvalid(/window|memory/i),
  );
});

/** A zstd frame of `n` RLE blocks of one byte each, in a window of 2^wlog bytes (RFC 8878 3.1.1). */
function rleBlocks(wlog: number, n: number): Buffer {
  const parts = [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (wlog - 10) << 3])];
  for (let i = 0; i < n; i++) {
    const h = (i === n - 1 ? 1 : 0) | (1 << 1) | (1 << 3); // last?, RLE, Block_Size 1
    parts.push(Buffer.from([h & 0xff, (h >> 8) & 0xff, h >> 16, 0x41]));
  }
  return Buffer.concat(parts);
}

test('zstd: many small blocks in a big window are refused within a few seconds, not decoded for hours', async () => {
  // fzstd copies its whole window after each block: 200 one-byte blocks in a 128 MiB window took 7 s.
  const bomb = rleBlocks(27, 20_000); // 80 KB; would have taken about 12 minutes
  const started = Date.now();
  const out = await decompressLayer(Readable.from([bomb]), 'zstd')
    .then(streamBytes)
    .then(
      (b) => b,
      (err: unknown) => err,
    );
  const ms = Date.now() - started;
  // zlib's zstd (Node 22.15 and later) decodes it at once; the fzstd path refuses it.
  if (Buffer.isBuffer(out)) assert.equal(out.length, 20_000);
  else layerInvalid(/blocks this small/)(out);
  assert.ok(ms < 10_000, `took ${ms} ms`);
  // Fewer such blocks, or the same blocks in a small window, cost little and are read.
  assert.equal((await inflate(rleBlocks(27, 10))).length, 10);
  assert.equal((await inflate(rleBlocks(12, 20_000))).length, 20_000);
});

test('FrameGuard: the framing walk and its accounting', () => {
  const g = new FrameGuard();
  g.scan(rleBlocks(17, 3));
  assert.ok(g.atFrameBoundary());
  const cut = new FrameGuard();
  cut.scan(rleBlocks(17, 3).subarray(0, 9));
  assert.ok(!cut.atFrameBoundary());
  assert.throws(() => new FrameGuard().scan(Buffer.from('not zstd')), /not a zstd frame/);
  assert.throws(
    () => new FrameGuard().scan(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x08, 0x00])),
    /reserved bit/,
  );
  // a block of the reserved type (3)
  assert.throws(
    () => new FrameGuard().scan(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, 0x07, 0, 0])),
    /reserved type/,
  );
  // a raw block bigger than the window (1 KiB window, 2 KiB block)
  const big = (2048 << 3) | 1;
  assert.throws(
    () =>
      new FrameGuard().scan(
        Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x00, big & 0xff, (big >> 8) & 0xff, big >> 16]),
      ),
    /over the largest/,
  );
  // the window limit is the one zstd's own decoder applies
  assert.equal(MAX_ZSTD_WINDOW, 2 ** 27);
  // output earns copying: 20,000 full blocks of a 128 MiB window pass (1,024 bytes copied per
  // byte out), the same blocks giving an eighth of the output do not
  const blocks = (outputPerBlock: number) => {
    const g = new FrameGuard();
    g.scan(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, (27 - 10) << 3]));
    for (let i = 0; i < 20_000; i++) {
      const h = (1 << 1) | ((128 * 1024) << 3);
      g.scan(Buffer.from([h & 0xff, (h >> 8) & 0xff, h >> 16, 0]));
      g.output(outputPerBlock);
    }
  };
  blocks(128 * 1024);
  assert.throws(() => blocks(16 * 1024), /blocks this small/);
});

test('xz: streams made by the xz tool, concatenated streams; cut, empty, trailing garbage and big dictionaries fail', async (t) => {
  if (!requireComponents(t, 'xz')) return;
  const dir = await tempDirFor(t);
  await writeFile(join(dir, 'data'), DATA);
  const xz = execFileSync('xz', ['-c', join(dir, 'data')]);
  assert.equal(detectCompression(xz), 'xz');
  assert.ok((await inflate(xz)).equals(DATA));
  assert.ok((await inflate(Buffer.concat([xz, xz]), 'xz')).equals(Buffer.concat([DATA, DATA])));
  for (const cut of [3, 6, 12, 100, xz.length >> 1, xz.length - 12, xz.length - 1]) {
    await assert.rejects(
      inflate(xz.subarray(0, cut), 'xz'),
      layerInvalid(/truncated|corrupt/),
      `cut at ${cut}`,
    );
  }
  await assert.rejects(
    inflate(xz.subarray(0, xz.length >> 1)),
    layerInvalid(/is truncated: xz: unexpected end/),
  );
  await assert.rejects(inflate(Buffer.alloc(0), 'xz'), layerInvalid(/truncated/));
  await assert.rejects(inflate(Buffer.concat([xz, Buffer.from('garbage')])), layerInvalid(/xz/));
  await assert.rejects(inflate(Buffer.from('not xz at all'), 'xz'), layerInvalid(/not an xz stream/));
  execFileSync('xz', ['-c', '--lzma2=dict=128MiB', join(dir, 'data')], { maxBuffer: 1 << 24 });
  const bigDict = execFileSync('xz', ['-c', '--lzma2=dict=128MiB', join(dir, 'data')]);
  await assert.rejects(inflate(bigDict), layerInvalid(/dictionary over 64 MiB/));
  // Errors release xz-decompress's one decoder: the next stream still decodes.
  assert.ok((await inflate(xz)).equals(DATA));
});

test('a decompressed stream destroyed early releases its input', async (t) => {
  if (!requireComponents(t, 'xz')) return;
  const dir = await tempDirFor(t);
  await writeFile(join(dir, 'data'), DATA);
  for (const [kind, bytes] of [
    ['gzip', zlib.gzipSync(DATA)],
    ['xz', execFileSync('xz', ['-c', join(dir, 'data')])],
  ] as const) {
    const src = Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]);
    const out = await decompressLayer(src, kind);
    await new Promise<void>((resolve) => out.once('readable', () => resolve()));
    out.destroy();
    await within(
      5_000,
      `${kind} input released`,
      new Promise<void>((r) => (src.destroyed ? r() : src.once('close', () => r()))),
    );
  }
  // and xz still works after a stream was abandoned
  assert.ok(
    (
      await inflate(await readFile(join(dir, 'data')).then((d) => execFileSync('xz', ['-c'], { input: d })))
    ).equals(DATA),
  );
});

test('an error the input emits while its magic bytes are peeked at reaches the output, not the process', async (t) => {
  // Found by the docker-archive fuzz target: a layer file piped through a verifying stream, which
  // fails at its end. The file's end comes in the same turn as its data, before the code awaiting
  // the peek runs, and the error found no listener: an uncaught exception.
  const dir = await tempDirFor(t);
  for (const compression of [undefined, 'none', 'gzip'] as const) {
    const file = join(dir, `blob-${compression}`);
    const bytes = compression === 'gzip' ? zlib.gzipSync(Buffer.alloc(5120)) : Buffer.alloc(5120);
    await writeFile(file, bytes);
    const verifying = new Transform({
      transform: (c, _e, cb) => cb(null, c),
      flush: (cb) => cb(new DistillError('DIGEST_MISMATCH', 'content does not match its digest')),
    });
    // as media/blobs.ts openVerified hands it over: from an async function, awaited
    // (a member of an archive file: a read stream with an end, so its end comes with its data)
    const opened = await (async () =>
      createReadStream(file, { start: 0, end: bytes.length - 1 }).pipe(verifying))();
    await assert.rejects(
      within(5_000, 'reading', decompressLayer(opened, compression).then(streamBytes)),
      (e: unknown) => isDistillError(e, 'DIGEST_MISMATCH'),
      String(compression),
    );
  }
});
