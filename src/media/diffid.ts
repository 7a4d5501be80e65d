import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { decompressLayer, detectCompression } from '../layers/read.js';
import { type Digest, Digester } from '../oci/digest.js';
import type { Layer } from '../oci/image.js';
import { layerCompression } from '../oci/mediatypes.js';
import { diffIdMismatch } from '../oci/verify.js';

/**
 * The diff_id check of a layer on its way to a destination: a pass-through stream of the
 * layer's (compressed) bytes that also inflates them and fails at its end, before the bytes are
 * committed anywhere, when the uncompressed tar does not hash to the diff_id the image's config
 * declares. Every writer (layout, archives, registry, engine) puts it after the digest check, so
 * a wrong diff_id is never written: `docker load` and runtimes would refuse the result.
 *
 * Costs: nothing for a layer distill built itself (`diffIdChecked`), for a layer that is not a
 * filesystem layer (a media type with no compression we know: an artifact's blob), or for an
 * uncompressed one, whose diff_id must simply be its digest (checked by the digest check before
 * this one ends). A compressed layer is inflated once, in step with the copy (zlib works on the
 * thread pool while the main thread writes), and its tar hashed.
 */
export function diffIdCheck(layer: Layer, what: string): Transform | undefined {
  if (layer.diffIdChecked === true) return undefined;
  if (layerCompression(layer.descriptor.mediaType) === undefined) return undefined;
  return new DiffIdCheck(layer, what);
}

/** The first bytes, enough to tell the compression from its magic number. */
const MAGIC_BYTES = 4;

class DiffIdCheck extends Transform {
  private head: Buffer | undefined = Buffer.alloc(0);
  /** While the layer is inflated: its compressed bytes go in here... */
  private input: PassThrough | undefined;
  /** ...and this resolves to the digest of the tar that comes out. */
  private hashed: Promise<Digest> | undefined;

  constructor(
    private readonly layer: Layer,
    private readonly what: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.head === undefined) {
      this.feed(chunk, chunk, cb);
      return;
    }
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < MAGIC_BYTES) {
      cb(null, chunk);
      return;
    }
    this.start(this.head);
    this.head = undefined;
    this.feed(undefined, chunk, cb);
  }

  override _flush(cb: TransformCallback): void {
    if (this.head !== undefined) this.start(this.head);
    this.head = undefined;
    const hashed = this.hashed;
    if (hashed === undefined) {
      // Not compressed: the tar is the blob, whose digest the check before this one verified.
      cb(this.compare(this.layer.descriptor.digest));
      return;
    }
    this.input!.end();
    hashed.then(
      (actual) => cb(this.compare(actual)),
      (err: unknown) => cb(err as Error),
    );
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.input?.destroy();
    cb(err);
  }

  private compare(actual: Digest): Error | null {
    return actual === this.layer.diffId ? null : diffIdMismatch(this.what, this.layer.diffId, actual);
  }

  /** Decides, from the first bytes, whether the layer must be inflated to be hashed. */
  private start(head: Buffer): void {
    const compression = detectCompression(head);
    if (compression === 'none') return;
    const input = new PassThrough();
    this.input = input;
    this.hashed = hashTar(decompressLayer(input, compression));
    // A corrupt layer fails the inflation: fail the copy with it (and never leave it unobserved).
    this.hashed.catch((err: unknown) => this.destroy(err as Error));
    input.write(head);
  }

  /** Passes `out` on once the inflater has taken `toInflate` (backpressure from the inflater). */
  private feed(toInflate: Buffer | undefined, out: Buffer, cb: TransformCallback): void {
    const input = this.input;
    if (input === undefined || toInflate === undefined || input.write(toInflate)) {
      cb(null, out);
      return;
    }
    input.once('drain', () => cb(null, out));
  }
}

async function hashTar(tar: Promise<Readable>): Promise<Digest> {
  const d = new Digester('sha256');
  for await (const chunk of await tar) d.update(chunk as Buffer);
  return d.digest();
}
