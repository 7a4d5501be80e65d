import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { buildLayer } from '../../src/layers/build.js';
import { diffIdOf, readLayer } from '../../src/layers/read.js';
import { FRAME_INPUT, ZstdFrames } from '../../src/layers/zstd-encode.js';
import { Store } from '../../src/store/store.js';
import { requireComponents, tempDir } from '../helpers/components.js';

/**
 * The zstd encoder of layers (layers/zstd-encode.ts): frames of FRAME_INPUT bytes whatever the
 * chunks the input comes in, read back by distill's reader and by Debian's zstd, an independent
 * decoder.
 */

/** Bytes that compress somewhat, the same every run (a counter mixed through sha256). */
function data(size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let o = 0, i = 0; o < size; o += 32, i++) {
    const h = createHash('sha256')
      .update(String(i % 5000))
      .digest();
    h.copy(out, o, 0, Math.min(32, size - o));
  }
  return out;
}

async function compress(parts: Buffer[], level?: number): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of Readable.from(parts).pipe(new ZstdFrames(level))) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** How many frames the file holds, as zstd -lv counts them. */
function frameCount(file: string): number {
  const out = execFileSync('zstd', ['-lv', file], { encoding: 'utf8' });
  return Number(/# of frames:\s*(\d+)/i.exec(out)?.[1] ?? /Frames\s*:?\s*(\d+)/i.exec(out)?.[1]);
}

test('frames of FRAME_INPUT bytes, whatever the chunks; decoded by zstd and by our reader', async (t) => {
  const input = data(FRAME_INPUT * 2 + 12345);
  const whole = await compress([input]);
  const odd: Buffer[] = [];
  for (let o = 0, n = 1; o < input.length; o += n, n = (n * 7 + 3) % 1_000_003)
    odd.push(input.subarray(o, o + n));
  assert.deepEqual(await compress(odd), whole, 'the same bytes from chunks of any size');
  assert.notDeepEqual(await compress([input], 19), whole);
  if (!requireComponents(t, 'zstd')) return;
  const dir = await tempDir('distill-zstd-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'x.zst');
  execFileSync('sh', ['-c', 'cat > "$1"', 'sh', file], { input: whole });
  assert.equal(frameCount(file), 3);
  const decoded = execFileSync('zstd', ['-d', '-c', file], { maxBuffer: 1 << 26 });
  assert.ok(decoded.equals(input), 'zstd decodes every frame');
});

test('a layer over several frames: its diff_id from our reader, zstd -d and the gzip layer agree', async (t) => {
  const dir = await tempDir('distill-zstd-layer-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const store = new Store(join(dir, 'store'));
  const big = data(FRAME_INPUT + 999);
  const entries = [
    { type: 'dir' as const, path: 'a', mode: 0o755 },
    { type: 'file' as const, path: 'a/big', mode: 0o644, source: { kind: 'bytes' as const, bytes: big } },
  ];
  const zst = await buildLayer(entries, { store, compression: 'zstd' });
  const gz = await buildLayer(entries, { store });
  assert.equal(zst.diffId, gz.diffId);
  assert.equal((await diffIdOf(await zst.open())).diffId, zst.diffId);
  let read: Buffer | undefined;
  for await (const e of readLayer(await zst.open())) {
    if (e.header.name === 'a/big') {
      const parts: Buffer[] = [];
      for await (const c of e.body) parts.push(c as Buffer);
      read = Buffer.concat(parts);
    }
  }
  assert.ok(read?.equals(big));
  if (!requireComponents(t, 'zstd')) return;
  const tar = execFileSync('zstd', ['-d', '-c', store.blobPath(zst.descriptor.digest)], {
    maxBuffer: 1 << 26,
  });
  assert.equal(`sha256:${createHash('sha256').update(tar).digest('hex')}`, zst.diffId);
});
