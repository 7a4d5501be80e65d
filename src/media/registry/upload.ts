import type { Readable } from 'node:stream';
import type { Descriptor } from '../../oci/types.js';
import { type OutgoingBlob, openChecked } from '../outgoing.js';
import type { RepositoryContext } from './context.js';
import { backoffMs, sleep } from './retry.js';
import { commitUpload, patchOnce, RestartUpload, uploadStatus } from './session.js';

/**
 * The three ways a blob's bytes go up once a session is open: small ones read into memory and
 * sent with the commit, big ones streamed in one PATCH, or in PATCH chunks of a fixed size. The
 * bytes come from `openChecked`: checked against their digest (once: a medium's verified stream
 * is not hashed again) and, for a layer, its diff_id, so a bad blob fails its stream before the
 * commit that would make the registry keep it.
 */

/** Reads a small blob into memory; the checks of its stream fail before it is sent. */
export async function readSmall(blob: OutgoingBlob): Promise<Buffer> {
  const stream = await openChecked(blob);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(chunk as Buffer);
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

export async function uploadMonolithic(
  ctx: RepositoryContext,
  d: Descriptor,
  bytes: Buffer,
  location: URL,
): Promise<void> {
  ctx.onProgress?.({ digest: d.digest, done: 0, total: d.size, phase: 'push' });
  await commitUpload(ctx, d, location, bytes);
  ctx.onProgress?.({ digest: d.digest, done: d.size, total: d.size, phase: 'push' });
}

/** Cuts a stream into buffers of exactly `size` bytes (the last one shorter); one in memory at a time. */
export async function* fixedChunks(stream: AsyncIterable<unknown>, size: number): AsyncGenerator<Buffer> {
  let buf = Buffer.allocUnsafe(size);
  let filled = 0;
  for await (const chunk of stream) {
    let b = chunk as Buffer;
    while (b.length > 0) {
      const n = Math.min(size - filled, b.length);
      b.copy(buf, filled, 0, n);
      filled += n;
      b = b.subarray(n);
      if (filled === size) {
        yield buf;
        buf = Buffer.allocUnsafe(size);
        filled = 0;
      }
    }
  }
  if (filled > 0) yield buf.subarray(0, filled);
}

/**
 * A chunked upload: `PATCH` with `Content-Range` per chunk, streamed from the source one chunk
 * at a time, then `PUT ?digest=`. When a PATCH fails, the upload's status (`GET` on its
 * location, `Range: 0-N`) says how much the registry kept, and the chunk goes on from there;
 * a lost or inconsistent session restarts the blob.
 */
export async function uploadChunked(
  ctx: RepositoryContext,
  blob: OutgoingBlob,
  start: URL,
  chunkSize: number,
): Promise<void> {
  const d = blob.descriptor;
  const what = `uploading blob ${d.digest} to ${ctx.registry}/${ctx.repository}`;
  let location = start;
  let offset = 0;
  const stream = await openChecked(blob);
  try {
    for await (const chunk of fixedChunks(stream, chunkSize)) {
      let sent = 0;
      let failures = 0;
      while (sent < chunk.length) {
        const from = offset + sent;
        const part = chunk.subarray(sent);
        const result = await patchOnce(
          ctx,
          location,
          { 'content-range': `${from}-${from + part.length - 1}` },
          part,
          what,
          failures + 1,
        );
        if ('location' in result) {
          location = result.location;
          sent = chunk.length;
          ctx.onProgress?.({ digest: d.digest, done: offset + sent, total: d.size, phase: 'push' });
          continue;
        }
        const failure = result.failure;
        if (++failures > ctx.client.retries) throw failure;
        await sleep(backoffMs(failures - 1));
        const status = await uploadStatus(ctx, location, what);
        if (status === undefined || status.offset < offset || status.offset > offset + chunk.length) {
          throw new RestartUpload(failure);
        }
        location = status.location;
        sent = status.offset - offset;
      }
      offset += chunk.length;
    }
  } finally {
    stream.destroy();
  }
  // The stream ended cleanly, so its checks passed: the bytes are the blob's.
  await commitUpload(ctx, d, location);
}

/**
 * The blob's bytes from `offset` on (a resumed upload reads from the start and skips what the
 * registry has), with progress reported as they go. The stream is `openChecked`'s: more bytes
 * than the descriptor's size fail it at once, and a wrong digest or diff_id at its end, which
 * aborts the PATCH before any commit (the registry checks the digest on `PUT ?digest=` too).
 */
async function* tailOf(
  stream: Readable,
  offset: number,
  onBytes: (done: number) => void,
): AsyncGenerator<Uint8Array> {
  // One piece is held back until the next is read, and the last until the stream has ended:
  // its checks (digest, diff_id) run at its end, and the HTTP client may stop reading once it
  // has Content-Length bytes, so the registry could be sent every byte, answer the PATCH, and
  // be told to commit before a failed check is seen. Held back, the last bytes go only once
  // the checks passed; a failure aborts the PATCH short of its length.
  let pos = 0;
  let held: { bytes: Uint8Array; pos: number } | undefined;
  try {
    for await (const chunk of stream) {
      const c = chunk as Buffer;
      const start = Math.max(0, offset - pos);
      pos += c.length;
      if (start < c.length) {
        if (held) {
          yield held.bytes;
          onBytes(held.pos);
        }
        held = { bytes: start === 0 ? c : c.subarray(start), pos };
      }
    }
    if (held) {
      yield held.bytes;
      onBytes(held.pos);
    }
  } finally {
    stream.destroy();
  }
}

/**
 * A streamed upload: the whole blob in one `PATCH`, read from the source as it is sent (one
 * pass, memory bounded by the socket's buffers), then `PUT ?digest=`. When the PATCH breaks, the
 * upload's status says how much the registry kept and the rest is sent from there; a lost
 * session restarts the blob.
 */
export async function uploadStreamed(ctx: RepositoryContext, blob: OutgoingBlob, start: URL): Promise<void> {
  const d = blob.descriptor;
  const what = `uploading blob ${d.digest} to ${ctx.registry}/${ctx.repository}`;
  let location = start;
  let offset = 0;
  let failures = 0;
  for (;;) {
    const from = offset;
    const result = await patchOnce(
      ctx,
      location,
      { 'content-range': `${from}-${d.size - 1}`, 'content-length': String(d.size - from) },
      {
        open: async () =>
          tailOf(await openChecked(blob), from, (done) =>
            ctx.onProgress?.({ digest: d.digest, done, total: d.size, phase: 'push' }),
          ),
      },
      what,
      failures + 1,
    );
    if ('location' in result) {
      await commitUpload(ctx, d, result.location);
      return;
    }
    const failure = result.failure;
    if (++failures > ctx.client.retries) throw failure;
    await sleep(backoffMs(failures - 1));
    const status = await uploadStatus(ctx, location, what);
    if (status === undefined || status.offset > d.size) throw new RestartUpload(failure);
    location = status.location;
    offset = status.offset;
  }
}
