import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { DistillError, isDistillError } from '../../src/errors.js';
import { buildLayer } from '../../src/layers/build.js';
import type { LayerEntry } from '../../src/layers/entries.js';
import { decompressLayer, detectCompression, diffIdOf, readLayer } from '../../src/layers/read.js';
import { digestOf } from '../../src/oci/digest.js';
import { requireComponents } from '../helpers/components.js';
import { readAll, streamBytes, tempDirFor, tempStore, within } from './helpers.js';

const bytes = (s: string | Uint8Array) => ({
  kind: 'bytes' as const,
  bytes: typeof s === 'string' ? Buffer.from(s) : s,
});

/** Deterministic, not very compressible bytes. */
function noise(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const ENTRIES: LayerEntry[] = [
  { type: 'file', path: '/a.txt', source: bytes('alpha\n') },
  { type: 'file', path: '/big.bin', source: bytes(noise(300_000)) },
  { type: 'symlink', path: '/link', target: 'a.txt' },
  { type: 'file', path: '/z.txt', mode: 0o755, source: bytes('zulu\n') },
];

async function tarBytes(t: import('node:test').TestContext): Promise<Buffer> {
  const store = await tempStore(t);
  const layer = await buildLayer(ENTRIES, { store, compression: 'none' });
  return streamBytes(await layer.open());
}

const isLayerInvalid = (err: unknown) => {
  assert.ok(isDistillError(err, 'LAYER_INVALID'), `expected LAYER_INVALID, got ${String(err)}`);
  return true;
};

/** Reads everything, bodies included, failing on a hang. */
const readAllWithin = (stream: Readable, compression?: 'gzip' | 'none' | 'zstd') =>
  within(10_000, 'reading the layer', readAll(stream, compression));

test('detectCompression by magic bytes', () => {
  assert.equal(detectCompression(Buffer.from([0x1f, 0x8b, 8, 0])), 'gzip');
  assert.equal(detectCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(detectCompression(Buffer.from('usr/')), 'none');
  assert.equal(detectCompression(new Uint8Array()), 'none');
  assert.equal(detectCompression(Buffer.from([0x1f])), 'none');
});

test('reads gzip, plain and explicitly typed layers alike; diffIdOf agrees', async (t) => {
  const tar = await tarBytes(t);
  const gz = zlib.gzipSync(tar);
  const plain = await readAllWithin(Readable.from([tar]));
  assert.deepEqual(
    plain.map((e) => e.header.name),
    ['a.txt', 'big.bin', 'link', 'z.txt'],
  );
  assert.ok(plain[1]?.content.equals(noise(300_000)));
  const fromGz = await readAllWithin(Readable.from([gz]));
  assert.deepEqual(fromGz, plain);
  assert.deepEqual(await readAllWithin(Readable.from([gz]), 'gzip'), plain);
  assert.deepEqual(await readAllWithin(Readable.from([tar]), 'none'), plain);
  // input in tiny chunks: magic split over chunks
  const chunks = [...gz].map((b) => Buffer.from([b]));
  assert.deepEqual(await within(20_000, 'byte-wise read', readAll(Readable.from(chunks))), plain);
  for (const input of [tar, gz]) {
    assert.deepEqual(await diffIdOf(Readable.from([input])), { diffId: digestOf(tar), size: tar.length });
  }
});

test('bodies left unread are skipped; breaking early releases the input', async (t) => {
  const tar = await tarBytes(t);
  const names: string[] = [];
  for await (const { header } of readLayer(Readable.from([zlib.gzipSync(tar)]))) names.push(header.name);
  assert.deepEqual(names, ['a.txt', 'big.bin', 'link', 'z.txt']);

  // partly read body
  const got: string[] = [];
  for await (const { header, body } of readLayer(Readable.from([tar]))) {
    if (header.name === 'big.bin') {
      for await (const _ of body) break;
    }
    got.push(header.name);
  }
  assert.deepEqual(got, names);

  const src = Readable.from([tar]);
  for await (const { header } of readLayer(src)) {
    assert.equal(header.name, 'a.txt');
    break;
  }
  assert.ok(src.destroyed, 'input destroyed after break');
});

test('truncated gzip layers are LAYER_INVALID, never a hang', async (t) => {
  const gz = zlib.gzipSync(await tarBytes(t));
  for (const cut of [1, 2, 3, 10, 20, 100, Math.floor(gz.length / 2), gz.length - 9, gz.length - 1]) {
    const part = gz.subarray(0, cut);
    await assert.rejects(readAllWithin(Readable.from([part])), isLayerInvalid, `cut at ${cut}`);
    await assert.rejects(
      within(10_000, 'diffIdOf', diffIdOf(Readable.from([part]))),
      isLayerInvalid,
      `diffIdOf cut at ${cut}`,
    );
  }
});

test('a truncated gzip layer fails the body being read, with LAYER_INVALID', async (t) => {
  const gz = zlib.gzipSync(await tarBytes(t));
  const part = gz.subarray(0, Math.floor(gz.length * 0.6)); // inside big.bin
  const run = async () => {
    for await (const { header, body } of readLayer(Readable.from([part]))) {
      if (header.name !== 'big.bin') continue;
      await assert.rejects(
        (async () => {
          for await (const _ of body);
        })(),
        isLayerInvalid,
      );
    }
  };
  await assert.rejects(within(10_000, 'truncated body', run()), isLayerInvalid);
});

test('corrupt layers are LAYER_INVALID', async (t) => {
  const tar = await tarBytes(t);
  const gz = zlib.gzipSync(tar);
  const flipped = Buffer.from(gz);
  flipped[Math.floor(gz.length / 2)]! ^= 0xff;
  await assert.rejects(readAllWithin(Readable.from([flipped])), isLayerInvalid);
  const badCrc = Buffer.from(gz);
  badCrc[gz.length - 6]! ^= 0x01;
  await assert.rejects(within(10_000, 'diffIdOf', diffIdOf(Readable.from([badCrc]))), isLayerInvalid);
  // a header block with a broken checksum
  const badHeader = Buffer.from(tar);
  badHeader[0] = 0x41;
  await assert.rejects(readAllWithin(Readable.from([badHeader])), isLayerInvalid);
  // not a tar at all
  await assert.rejects(
    readAllWithin(Readable.from([Buffer.from('hello, this is not a tar file\n'.repeat(40))])),
    isLayerInvalid,
  );
  // a plain tar cut inside a body, and inside a header
  await assert.rejects(readAllWithin(Readable.from([tar.subarray(0, 2048)])), isLayerInvalid);
  await assert.rejects(readAllWithin(Readable.from([tar.subarray(0, 700)])), isLayerInvalid);
  // declared gzip, but plain
  await assert.rejects(readAllWithin(Readable.from([tar]), 'gzip'), isLayerInvalid);
  // gzip with trailing tar garbage inside: the tar inside is cut
  await assert.rejects(readAllWithin(Readable.from([zlib.gzipSync(tar.subarray(0, 1000))])), isLayerInvalid);
});

test('an empty input is an empty layer', async () => {
  assert.deepEqual(await readAllWithin(Readable.from([])), []);
  assert.deepEqual(await readAllWithin(Readable.from([Buffer.alloc(1024)])), []);
});

test('errors of the input stream keep their code', async (t) => {
  const tar = await tarBytes(t);
  const failing = () =>
    new Readable({
      read() {
        this.push(tar.subarray(0, 1536));
        this.destroy(new DistillError('DIGEST_MISMATCH', 'blob does not match'));
      },
    });
  await assert.rejects(readAllWithin(failing()), (e: unknown) => isDistillError(e, 'DIGEST_MISMATCH'));
  await assert.rejects(within(10_000, 'diffIdOf', diffIdOf(failing())), (e: unknown) =>
    isDistillError(e, 'DIGEST_MISMATCH'),
  );
  const store = await tempStore(t);
  const layer = await buildLayer(ENTRIES, { store });
  await writeFile(store.blobPath(layer.descriptor.digest), zlib.gzipSync(tar.subarray(0, 1024)));
  await assert.rejects(
    readAllWithin(await layer.open()),
    (e: unknown) => isDistillError(e) && e.code !== 'INTERNAL',
  );
});

test('reads zstd layers made by the zstd tool; truncated zstd is LAYER_INVALID', async (t) => {
  if (!requireComponents(t, 'zstd')) return;
  const dir = await tempDirFor(t);
  const tar = await tarBytes(t);
  await writeFile(join(dir, 'layer.tar'), tar);
  execFileSync('zstd', ['-q', '-19', join(dir, 'layer.tar'), '-o', join(dir, 'layer.tar.zst')]);
  const zst = await readFile(join(dir, 'layer.tar.zst'));
  assert.equal(detectCompression(zst), 'zstd');
  const plain = await readAllWithin(Readable.from([tar]));
  assert.deepEqual(await readAllWithin(Readable.from([zst])), plain);
  assert.deepEqual(await readAllWithin(Readable.from([zst]), 'zstd'), plain);
  assert.deepEqual(await diffIdOf(Readable.from([zst])), { diffId: digestOf(tar), size: tar.length });
  // several frames in one stream (zstd of concatenated parts)
  execFileSync('sh', [
    '-c',
    `head -c 5120 "$1" | zstd -q -c > "$2"; tail -c +5121 "$1" | zstd -q -c >> "$2"`,
    'sh',
    join(dir, 'layer.tar'),
    join(dir, 'multi.zst'),
  ]);
  assert.deepEqual(await diffIdOf(Readable.from([await readFile(join(dir, 'multi.zst'))])), {
    diffId: digestOf(tar),
    size: tar.length,
  });
  for (const cut of [3, 10, Math.floor(zst.length / 2), zst.length - 1]) {
    await assert.rejects(
      readAllWithin(Readable.from([zst.subarray(0, cut)])),
      isLayerInvalid,
      `cut at ${cut}`,
    );
  }
});

test('zstd decompression does not buffer a whole bomb in memory', async (t) => {
  if (!requireComponents(t, 'zstd')) return;
  const dir = await tempDirFor(t);
  // 512 MiB of zeros compress to a few KiB of RLE blocks.
  execFileSync('sh', [
    '-c',
    `head -c 536870912 /dev/zero | zstd -q -1 -c > "$1"`,
    'sh',
    join(dir, 'bomb.zst'),
  ]);
  const bomb = await readFile(join(dir, 'bomb.zst'));
  assert.ok(bomb.length < 1_000_000);
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const tar = await decompressLayer(Readable.from([bomb]));
    let n = 0;
    for await (const c of tar) {
      n += (c as Buffer).length;
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    assert.equal(n, 536870912);
  } finally {
    clearInterval(timer);
  }
  t.diagnostic(`rss growth ${Math.round((peak - before) / 1048576)} MiB`);
  assert.ok(peak - before < 128 * 1024 * 1024, `rss grew by ${Math.round((peak - before) / 1048576)} MiB`);
});

test('reads tars written by GNU tar (gnu and pax formats, long names)', async (t) => {
  if (!requireComponents(t, 'tar')) return;
  const dir = await tempDirFor(t);
  const long = `d/${'q'.repeat(150)}`;
  await mkdir(join(dir, 'src', 'd'), { recursive: true });
  await writeFile(join(dir, 'src', long), 'content');
  for (const format of ['gnu', 'pax']) {
    const tar = execFileSync('tar', [`--format=${format}`, '-C', join(dir, 'src'), '-cf', '-', 'd'], {
      maxBuffer: 1 << 24,
    });
    const read = await readAllWithin(Readable.from([tar]));
    const file = read.find((e) => e.header.type === 'file');
    assert.equal(file?.header.name, long, format);
    assert.equal(file?.content.toString(), 'content');
  }
});

test('a stream already consumed is LAYER_INVALID, not a hang', async () => {
  const s = Readable.from([Buffer.alloc(1024)]);
  for await (const _ of s);
  await assert.rejects(within(5_000, 'reading a consumed stream', readAll(s)), isLayerInvalid);
});
