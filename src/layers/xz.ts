/**
 * xz decompression through xz-decompress (xz-embedded in WebAssembly; no native code). Its
 * stream is wrapped for what it does not handle itself: an empty input (it fails with a
 * TypeError), and its numeric error codes (xz.h's enum xz_ret), turned into sentences. What it
 * does handle, checked by test/layers/compression.test.ts: a cut stream fails (XZ_BUF_ERROR), a
 * dictionary over 64 MiB is refused (XZ_MEMLIMIT_ERROR) before it is allocated, concatenated
 * streams are read, trailing bytes that are not a stream fail.
 */
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { TruncatedError } from './read-errors.js';
import { TarFormatError } from './tar-header.js';

type XzStream = new (s: WebReadableStream<Uint8Array>) => WebReadableStream<Uint8Array>;
let xzStream: Promise<XzStream> | undefined;

/**
 * xz-decompress, loaded on the first xz stream: with node:stream/web, which it loads, it costs
 * about 10 ms, and only a base's Debian indexes and packages are xz (a warm app build reads none).
 */
function loadXz(): Promise<XzStream> {
  // xz-decompress is CommonJS: Node puts its export on the default import, tsx and esbuild may
  // put it on the namespace itself
  type Module = { XzReadableStream?: XzStream; default?: { XzReadableStream?: XzStream } };
  xzStream ??= import('xz-decompress').then((m: unknown) => {
    const mod = m as Module;
    const ctor = mod.XzReadableStream ?? mod.default?.XzReadableStream;
    if (ctor === undefined) throw new Error('xz-decompress: no XzReadableStream export');
    return ctor;
  });
  return xzStream;
}

/** xz.h enum xz_ret, from 2 on (0 and 1 are OK and STREAM_END). */
const XZ_ERRORS: Record<number, string> = {
  2: 'xz: unsupported integrity check',
  3: 'xz: out of memory',
  4: 'xz: the stream needs a dictionary over 64 MiB, more than distill allows',
  5: 'xz: not an xz stream (bad magic)',
  6: 'xz: unsupported options (filters or headers)',
  7: 'xz: corrupt data',
};

/** An error of the stream xzDecompressor returns, as a sentence (its codes mean little to anyone). */
export function xzError(err: unknown): unknown {
  const m = /error code (\d+)/.exec(err instanceof Error ? err.message : '');
  if (m === null) return err;
  const code = Number(m[1]);
  if (code === 8) return new TruncatedError('xz: unexpected end of data');
  return new TarFormatError(XZ_ERRORS[code] ?? `xz: error ${code}`);
}

/**
 * The decompressed bytes of `src`, an xz stream; destroying the result releases `src`. Its errors
 * read better through xzError.
 */
export async function xzDecompressor(src: Readable): Promise<Readable> {
  const XzReadableStream = await loadXz();
  let sawInput = false;
  const input = Readable.toWeb(src) as unknown as WebReadableStream<Uint8Array>;
  const reader = input.getReader();
  // A stream over the input that fails an empty input instead of handing xz-decompress nothing.
  const guarded = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const r = await reader.read();
      if (r.done) {
        if (!sawInput) controller.error(new TruncatedError('xz: unexpected end of data (empty input)'));
        else controller.close();
        return;
      }
      if (r.value.byteLength > 0) sawInput = true;
      controller.enqueue(r.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }) as unknown as WebReadableStream<Uint8Array>;
  return Readable.fromWeb(new XzReadableStream(guarded));
}
