import { Transform, type TransformCallback } from 'node:stream';
import { DistillError } from '../errors.js';
import { type Digest, Digester, digestAlgorithm } from './digest.js';

/**
 * A pass-through stream that checks the bytes against an expected digest and size. It fails as
 * soon as more bytes than `size` arrive, and at the end when the digest or the size differ, so a
 * consumer that only commits on a clean end never keeps bad bytes (ggcr's internal/verify).
 */
export class VerifyStream extends Transform {
  private readonly digester: Digester;

  constructor(
    readonly expected: { digest: Digest; size?: number | undefined },
    readonly what: string,
  ) {
    super();
    this.digester = new Digester(digestAlgorithm(expected.digest));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.digester.update(chunk);
    const size = this.expected.size;
    if (size !== undefined && this.digester.size > size) {
      cb(
        new DistillError(
          'SIZE_MISMATCH',
          `${this.what}: more bytes than the ${size} its descriptor declares (${this.expected.digest})`,
        ),
      );
      return;
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const size = this.expected.size;
    if (size !== undefined && this.digester.size !== size) {
      cb(
        new DistillError(
          'SIZE_MISMATCH',
          `${this.what}: got ${this.digester.size} bytes, its descriptor declares ${size} (${this.expected.digest})`,
        ),
      );
      return;
    }
    const actual = this.digester.digest();
    if (actual !== this.expected.digest) {
      cb(
        new DistillError(
          'DIGEST_MISMATCH',
          `${this.what}: content does not match its digest (expected ${this.expected.digest}, got ${actual})`,
        ),
      );
      return;
    }
    cb();
  }
}

/** Checks bytes already in memory. */
export function verifyBytes(
  bytes: Uint8Array,
  expected: { digest: Digest; size?: number },
  what: string,
): void {
  if (expected.size !== undefined && bytes.length !== expected.size) {
    throw new DistillError(
      'SIZE_MISMATCH',
      `${what}: got ${bytes.length} bytes, its descriptor declares ${expected.size} (${expected.digest})`,
    );
  }
  const d = new Digester(digestAlgorithm(expected.digest));
  d.update(bytes);
  const actual = d.digest();
  if (actual !== expected.digest) {
    throw new DistillError(
      'DIGEST_MISMATCH',
      `${what}: content does not match its digest (expected ${expected.digest}, got ${actual})`,
    );
  }
}

/** Streams whose bytes a medium hashed itself as it stored them (media/blobs.ts, HashedFiles). */
const vouched = new WeakMap<object, { digest: Digest; size: number }>();

/**
 * Records that `stream` yields exactly the bytes of `d`, known because this process hashed them
 * as it stored them where nothing else can change them: no check needs to hash them again.
 */
export function vouchFor<S extends object>(stream: S, d: { digest: Digest; size: number }): S {
  vouched.set(stream, { digest: d.digest, size: d.size });
  return stream;
}

/**
 * True when `stream` already checks exactly this digest and size (a medium's verified layer
 * stream), or its bytes are vouched for: checking the same bytes again would only hash them twice.
 */
export function verifiesDescriptor(stream: unknown, d: { digest: Digest; size: number }): boolean {
  if (stream instanceof VerifyStream) {
    return stream.expected.digest === d.digest && stream.expected.size === d.size;
  }
  const v = typeof stream === 'object' && stream !== null ? vouched.get(stream) : undefined;
  return v !== undefined && v.digest === d.digest && v.size === d.size;
}

/** A layer whose uncompressed bytes do not hash to the diff_id its image's config declares. */
export function diffIdMismatch(what: string, expected: Digest, actual: Digest): DistillError {
  return new DistillError(
    'DIFF_ID_MISMATCH',
    `${what}: its uncompressed content hashes to ${actual}, but the image config's rootfs.diff_ids says ${expected}; the config does not describe this layer (docker load and container runtimes refuse such an image)`,
  );
}
