import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import * as zlib from 'node:zlib';
import { buildLibdeflateWasm } from '../../scripts/libdeflate-wasm/build.mjs';
import { DistillError } from '../../src/errors.js';
import {
  compileLibdeflate,
  deflateChunk,
  deflateChunkHere,
  libdeflateMemory,
  libdeflateModule,
} from '../../src/layers/libdeflate.js';
import { LIBDEFLATE_WASM_BASE64, LIBDEFLATE_WASM_SHA256 } from '../../src/layers/libdeflate-wasm.js';
import { BLOCK_SIZE, pgzip } from '../../src/layers/pgzip.js';
import { IN_CI, requireComponents } from '../helpers/components.js';

interface WasmStatics {
  Module: { new (b: Uint8Array): WebAssembly.Module; imports(m: WebAssembly.Module): unknown[] };
}

const wasm = Buffer.from(LIBDEFLATE_WASM_BASE64, 'base64');

/** Bytes that compress, with repeats at every distance up to 32 KiB. */
function repetitive(size: number): Buffer {
  const out = Buffer.alloc(size);
  const seed = randomBytes(4096);
  for (let off = 0; off < size; off += 1000) seed.copy(out, off, (off * 7) % 3000, ((off * 7) % 3000) + 1000);
  return out;
}

test('the committed module is what the build script makes from Debian source (clang-14, wasi-libc)', async (t) => {
  const sysroot = '/usr/lib/wasm32-wasi/libc.a';
  if (!existsSync(sysroot)) {
    const reason = `needs wasi-libc (${sysroot}); .ci/run installs it`;
    if (IN_CI) throw new Error(`CI=true and this test ${reason}`);
    t.skip(reason);
    return;
  }
  if (!requireComponents(t, 'clang-14', 'wasm-ld-14', 'patch', 'tar')) return;
  // Downloads the source from deb.debian.org and checks its sha256, as a maintainer's run does.
  const built = await buildLibdeflateWasm();
  assert.equal(built.length, wasm.length, 'size');
  assert.ok(built.equals(wasm), 'the rebuilt module has the committed bytes');
});

test('the module imports nothing and its recorded digest is its own', async () => {
  assert.equal((await libdeflateModule()) instanceof Object, true);
  assert.doesNotThrow(() => compileLibdeflate(wasm, LIBDEFLATE_WASM_SHA256));
  const W = (globalThis as unknown as { WebAssembly: WasmStatics }).WebAssembly;
  assert.deepEqual(W.Module.imports(new W.Module(wasm)), []);
  assert.equal(LIBDEFLATE_WASM_SHA256.length, 64);
});

test('a damaged module is refused with a DistillError saying what to do', () => {
  const flipped = Buffer.from(wasm);
  flipped[100] = (flipped[100] as number) ^ 1;
  const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
  const notWasm = Buffer.from('not wasm');
  const bare = Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]); // a valid module exporting nothing
  const cases: [string, Uint8Array, string, RegExp][] = [
    ['empty', new Uint8Array(0), LIBDEFLATE_WASM_SHA256, /is empty.*reinstall/],
    ['one bit flipped', flipped, LIBDEFLATE_WASM_SHA256, /has sha256 [0-9a-f]{64}, expected .*reinstall/],
    ['not WebAssembly', notWasm, sha(notWasm), /does not compile.*reinstall/],
    ['no encoder exports', bare, sha(bare), /cannot be used.*memory.*reinstall/],
  ];
  for (const [name, bytes, digest, re] of cases) {
    assert.throws(
      () => compileLibdeflate(bytes, digest),
      (err: unknown) => err instanceof DistillError && re.test(err.message),
      name,
    );
  }
});

test('a non-final chunk ends with a sync flush; chunks concatenate into one deflate stream', async () => {
  const a = repetitive(300_000);
  const b = randomBytes(70_000);
  const c = repetitive(5);
  for (const level of [0, 1, 6, 9]) {
    const ca = await deflateChunkHere(a, level, false);
    assert.deepEqual([...ca.subarray(-4)], [0, 0, 0xff, 0xff], `level ${level}: sync flush`);
    // Not final: inflating it alone ends without the end of the stream.
    assert.throws(() => zlib.inflateRawSync(ca), /unexpected end/, `level ${level}: not final`);
    assert.ok(zlib.inflateRawSync(ca, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).equals(a));
    const cb = await deflateChunk(Buffer.from(b), level, false);
    const empty = await deflateChunkHere(Buffer.alloc(0), level, false);
    const cc = await deflateChunkHere(c, level, true);
    const whole = zlib.inflateRawSync(Buffer.concat([ca, cb, empty, cc]));
    assert.ok(whole.equals(Buffer.concat([a, b, c])), `level ${level}: one stream`);
  }
  // An empty final chunk is a valid (empty) stream.
  assert.equal(zlib.inflateRawSync(await deflateChunkHere(Buffer.alloc(0), 6, true)).length, 0);
});

test('the same bytes in this thread and on the pool', async () => {
  const input = repetitive(BLOCK_SIZE);
  for (const final of [false, true]) {
    const here = await deflateChunkHere(input, 6, final);
    const there = await deflateChunk(Buffer.from(input), 6, final);
    assert.ok(here.equals(there), `final ${final}`);
  }
});

test("the encoders' memory does not grow over many layers", async () => {
  const input = repetitive(2 * BLOCK_SIZE + 1);
  await pgzip(input);
  await pgzip(input, { level: 9 });
  const first = libdeflateMemory();
  assert.ok(first.workers.length > 0, 'a layer of several blocks ran on the pool');
  for (let i = 0; i < 12; i++) await pgzip(input, { level: i % 2 === 0 ? 6 : 9 });
  const after = libdeflateMemory();
  assert.equal(after.local, first.local, "this thread's encoder");
  assert.ok(
    Math.max(...after.workers) <= Math.max(...first.workers),
    `pool ${after.workers} vs ${first.workers}`,
  );
  for (const bytes of [after.local, ...after.workers]) {
    assert.ok(bytes <= 32 * 1024 * 1024, `${bytes} bytes of WebAssembly memory`);
  }
});
