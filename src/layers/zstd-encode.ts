/**
 * zstd compression of layers, the same bytes on every host and every Node (decision 0020).
 *
 * Node's zlib has zstd only from 22.15 and distill runs on Node 20, so the encoder is zstd's own
 * C library (1.5.7) compiled to WebAssembly, from @hpcc-js/wasm-zstd: one build of it for every
 * platform, pinned by the lockfile, so a layer's bytes do not depend on the machine or on which
 * Node runs distill (Node's zlib links whichever libzstd its build has). Its streaming API keeps
 * one context for the whole module, which two layers compressed at once would share; so the
 * input is cut into frames of FRAME_INPUT bytes, each compressed on its own by the one-shot
 * ZSTD_compress, and the frames are concatenated (RFC 8878 3.1: a zstd stream is a sequence of
 * frames; zstd, containerd, podman and distill's reader read them all). The cut is by byte count
 * of the uncompressed tar, whatever the chunks it arrives in, so the output is deterministic.
 * A frame of 8 MiB costs about 0.15 % against one frame for the whole input at level 3 (measured
 * on 64 MiB of the Node binary: 24,483,025 against 24,428,164 bytes) and bounds the memory.
 */
import { Transform, type TransformCallback } from 'node:stream';
import type { Zstd } from '@hpcc-js/wasm-zstd';
import { DistillError } from '../errors.js';
import { ZSTD_DEFAULT_LEVEL, ZSTD_MAX_LEVEL } from './compression.js';

/** Uncompressed bytes per zstd frame. */
export const FRAME_INPUT = 8 * 1024 * 1024;
const ZSTD_MIN_LEVEL = 1;

let loaded: Promise<Zstd> | undefined;

/**
 * The encoder, loaded on first use: the package inlines its WebAssembly (250 KB of source), which
 * every warm gzip build would otherwise parse at start (bench/versions).
 */
function zstd(): Promise<Zstd> {
  loaded ??= import('@hpcc-js/wasm-zstd').then((m) => m.Zstd.load());
  return loaded;
}

/** The zstd library's version, for the decision note and the bench. */
export async function zstdEncoderVersion(): Promise<string> {
  return (await zstd()).version();
}

export function checkZstdLevel(level: number): void {
  if (!Number.isInteger(level) || level < ZSTD_MIN_LEVEL || level > ZSTD_MAX_LEVEL) {
    throw new DistillError(
      'USAGE',
      `zstd level must be an integer from ${ZSTD_MIN_LEVEL} to ${ZSTD_MAX_LEVEL}, got ${level}`,
    );
  }
}

/** A stream compressing what it is given into zstd frames of FRAME_INPUT uncompressed bytes. */
export class ZstdFrames extends Transform {
  private pending: Buffer[] = [];
  private pendingSize = 0;

  constructor(private readonly level: number = ZSTD_DEFAULT_LEVEL) {
    super();
    checkZstdLevel(level);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingSize += chunk.length;
    if (this.pendingSize < FRAME_INPUT) {
      cb();
      return;
    }
    this.emitFrames(false).then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    this.emitFrames(true).then(() => cb(), cb);
  }

  /** Compresses every whole frame pending, and with `last` the rest (no frame for no input). */
  private async emitFrames(last: boolean): Promise<void> {
    const z = await zstd();
    let all = Buffer.concat(this.pending, this.pendingSize);
    while (all.length >= FRAME_INPUT || (last && all.length > 0)) {
      const n = Math.min(FRAME_INPUT, all.length);
      this.push(Buffer.from(z.compress(all.subarray(0, n), this.level)));
      all = all.subarray(n);
    }
    this.pending = all.length > 0 ? [Buffer.from(all)] : [];
    this.pendingSize = all.length;
  }
}
