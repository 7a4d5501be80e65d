/**
 * libdeflate's compressor in WebAssembly, distill's deflate for gzip layers (decision 0042).
 *
 * Hand-written because no maintained npm package ships libdeflate: the WebAssembly deflate
 * packages are ports of zlib or Rust's miniz_oxide, none smaller than zlib (decision 0039).
 * libdeflate 6 deflates the Node layer about 4 % smaller than zlib 6, with less CPU. The module
 * (libdeflate-wasm.ts) is built from Debian's source by scripts/libdeflate-wasm/build.mjs, with a
 * patch that ends a non-final chunk with a sync flush so that chunks concatenate into one deflate
 * stream. It imports nothing, and WebAssembly computes the same bytes on every CPU: a layer's
 * digest does not depend on the host (Node's zlib is Chromium's fork, with per-CPU code paths).
 *
 * Two ways to run it, the same bytes either way:
 * - in this thread (`deflateChunkHere`), for a layer of one chunk: a warm build's small app layer
 *   should not start a thread;
 * - on a pool of worker threads (`deflateChunk`), each with its own instance, for layers of several
 *   chunks; the pool starts on first use, keeps its threads, and does not hold the process open
 *   while idle.
 * The encoder is a JavaScript source string so that the worker (started with `eval`, no file to
 * find in dist/, the bundle or the classic script of decision 0030) and this thread run the same
 * code.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DistillError } from '../errors.js';

/**
 * `makeEncoder(module)`: an instance of the module and a `compress(input, level, final)` that
 * returns the deflate bytes of `input` (a copy). One compressor per level and one input and one
 * output buffer are kept in the instance's memory and reused, grown only for a larger chunk: the
 * memory stays at what the largest chunk needs, however many layers go through it.
 */
const ENCODER_SOURCE = `function makeEncoder(module) {
  const e = new WebAssembly.Instance(module, {}).exports;
  for (const name of ['memory', 'malloc', 'free', 'compressor_new', 'bound', 'compress_chunk']) {
    if (!(name in e)) throw new Error('the module does not export ' + name);
  }
  const compressors = new Map();
  let inPtr = 0, inCap = 0, outPtr = 0, outCap = 0;
  function alloc(n) {
    const p = e.malloc(Math.max(n, 1)) >>> 0;
    if (p === 0) throw new Error('out of WebAssembly memory (' + n + ' bytes)');
    return p;
  }
  function compress(input, level, final) {
    let c = compressors.get(level);
    if (c === undefined) {
      c = e.compressor_new(level) >>> 0;
      if (c === 0) throw new Error('no compressor for level ' + level);
      compressors.set(level, c);
    }
    const n = input.length;
    if (n > inCap || inPtr === 0) {
      if (inPtr !== 0) e.free(inPtr);
      inPtr = 0;
      inPtr = alloc(n);
      inCap = n;
    }
    const bound = e.bound(c, n) >>> 0;
    if (bound > outCap) {
      if (outPtr !== 0) e.free(outPtr);
      outPtr = 0;
      outPtr = alloc(bound);
      outCap = bound;
    }
    new Uint8Array(e.memory.buffer, inPtr, n).set(input);
    const m = e.compress_chunk(c, inPtr, n, outPtr, outCap, final ? 1 : 0) >>> 0;
    if (m === 0) throw new Error('the output buffer was too small');
    return new Uint8Array(e.memory.buffer.slice(outPtr, outPtr + m));
  }
  return { compress, memoryBytes: () => e.memory.buffer.byteLength };
}`;

const WORKER_SOURCE = `'use strict';
const { parentPort, workerData } = require('node:worker_threads');
${ENCODER_SOURCE}
const encoder = makeEncoder(workerData.module);
parentPort.on('message', (m) => {
  try {
    const out = encoder.compress(m.input, m.level, m.final);
    parentPort.postMessage({ id: m.id, out, memoryBytes: encoder.memoryBytes() }, [out.buffer]);
  } catch (err) {
    parentPort.postMessage({ id: m.id, error: String(err && err.message ? err.message : err) });
  }
});`;

interface Encoder {
  compress(input: Uint8Array, level: number, final: boolean): Uint8Array;
  memoryBytes(): number;
}
type MakeEncoder = (module: WebAssembly.Module) => Encoder;

// Node has WebAssembly as a global; its types (lib ES2023, no DOM) declare only the namespace.
const WasmModule = (
  globalThis as unknown as { WebAssembly: { Module: new (bytes: Uint8Array) => WebAssembly.Module } }
).WebAssembly.Module;

// The encoder's source is this module's own constant, not input: evaluated once here.
const makeEncoder = new Function(`return (${ENCODER_SOURCE});`)() as MakeEncoder;

function corrupt(detail: string, cause?: unknown): DistillError {
  return new DistillError(
    'INTERNAL',
    `distill's libdeflate WebAssembly module (src/layers/libdeflate-wasm.ts) ${detail}: this installation of distill is damaged; reinstall it`,
    cause === undefined ? {} : { cause },
  );
}

/**
 * Compiles and checks a libdeflate module: its SHA-256 must be `sha256`, it must compile and
 * export the encoder's functions. Throws a DistillError saying which, otherwise.
 */
export function compileLibdeflate(bytes: Uint8Array, sha256: string): WebAssembly.Module {
  if (bytes.length === 0) throw corrupt('is empty');
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== sha256) throw corrupt(`has sha256 ${actual}, expected ${sha256}`);
  let module: WebAssembly.Module;
  try {
    module = new WasmModule(bytes);
  } catch (err) {
    throw corrupt(`does not compile (${(err as Error).message})`, err);
  }
  try {
    makeEncoder(module);
  } catch (err) {
    throw corrupt(`cannot be used (${(err as Error).message})`, err);
  }
  return module;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/**
 * The module, loaded on the first gzip layer: its 85 KB of base64 stay out of the chunks every
 * command loads at start (bench:start), as zstd-encode.ts does with its encoder.
 */
export function libdeflateModule(): Promise<WebAssembly.Module> {
  compiled ??= import('./libdeflate-wasm.js').then((m) =>
    compileLibdeflate(Buffer.from(m.LIBDEFLATE_WASM_BASE64, 'base64'), m.LIBDEFLATE_WASM_SHA256),
  );
  return compiled;
}

let local: Encoder | undefined;

function deflateError(err: unknown): DistillError {
  return new DistillError('INTERNAL', `libdeflate: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

/** Deflates one chunk in this thread (see deflateChunk); async only to load the module. */
export async function deflateChunkHere(input: Uint8Array, level: number, final: boolean): Promise<Buffer> {
  local ??= makeEncoder(await libdeflateModule());
  try {
    const out = local.compress(input, level, final);
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  } catch (err) {
    throw deflateError(err);
  }
}

// --- the pool ------------------------------------------------------------------------------

interface Task {
  resolve: (out: Buffer) => void;
  reject: (err: unknown) => void;
}

interface PoolWorker {
  worker: Worker;
  tasks: Map<number, Task>;
  memoryBytes: number;
}

/**
 * Threads: one per core, at most 4 (a 2-core machine had zlib's 4 threadpool threads busy with 2
 * cores' worth of work; more threads than cores only add memory).
 */
const MAX_WORKERS = Math.max(1, Math.min(4, availableParallelism()));

const pool: PoolWorker[] = [];
let nextId = 1;

function startWorker(module: WebAssembly.Module): PoolWorker {
  const pw: PoolWorker = {
    worker: new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { module },
      // Not the parent's flags: a loader such as tsx would be loaded again for nothing.
      execArgv: [],
    }),
    tasks: new Map(),
    memoryBytes: 0,
  };
  const fail = (err: unknown) => {
    const i = pool.indexOf(pw);
    if (i >= 0) pool.splice(i, 1);
    for (const t of pw.tasks.values()) t.reject(deflateError(err));
    pw.tasks.clear();
  };
  pw.worker.on('message', (m: { id: number; out?: Uint8Array; error?: string; memoryBytes?: number }) => {
    const t = pw.tasks.get(m.id);
    pw.tasks.delete(m.id);
    if (pw.tasks.size === 0) pw.worker.unref();
    if (m.memoryBytes !== undefined) pw.memoryBytes = m.memoryBytes;
    if (t === undefined) return;
    if (m.out) t.resolve(Buffer.from(m.out.buffer, m.out.byteOffset, m.out.byteLength));
    else t.reject(deflateError(new Error(m.error ?? 'no output')));
  });
  pw.worker.on('error', fail);
  pw.worker.on('exit', (code) => fail(new Error(`a compression thread exited (code ${code})`)));
  pw.worker.unref();
  pool.push(pw);
  return pw;
}

/** The worker with the fewest tasks, a new one while all are busy and the pool is not full. */
function pickWorker(module: WebAssembly.Module): PoolWorker {
  let best: PoolWorker | undefined;
  for (const pw of pool) if (best === undefined || pw.tasks.size < best.tasks.size) best = pw;
  if (best === undefined || (best.tasks.size > 0 && pool.length < MAX_WORKERS)) return startWorker(module);
  return best;
}

/**
 * Deflates one chunk on a worker thread: with `final`, the end of the deflate stream (BFINAL
 * set); without, a chunk ending with a sync flush that the next chunk's bytes may follow. The
 * chunk's bytes depend only on `input`, `level` and `final`. `input` is transferred to the thread
 * when it owns its whole ArrayBuffer (it must not be used afterwards), else copied.
 */
export async function deflateChunk(input: Buffer, level: number, final: boolean): Promise<Buffer> {
  const module = await libdeflateModule();
  let pw: PoolWorker;
  try {
    pw = pickWorker(module);
  } catch (err) {
    throw err instanceof DistillError ? err : deflateError(err);
  }
  const id = nextId++;
  const owned = input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
  const data = owned ? new Uint8Array(input.buffer) : new Uint8Array(input);
  return new Promise<Buffer>((resolve, reject) => {
    pw.tasks.set(id, { resolve, reject });
    pw.worker.ref();
    pw.worker.postMessage({ id, input: data, level, final }, [data.buffer as ArrayBuffer]);
  });
}

/** WebAssembly memory of this thread's encoder and of each pool thread's (tests). */
export function libdeflateMemory(): { local: number; workers: number[] } {
  return { local: local?.memoryBytes() ?? 0, workers: pool.map((pw) => pw.memoryBytes) };
}
