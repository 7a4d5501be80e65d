import { Readable, type Transform } from 'node:stream';
import type { Artifact, Image, Layer, RawJson } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { VerifyStream, verifiesDescriptor } from '../oci/verify.js';
import { diffIdCheck } from './diffid.js';
import { joined } from './streams.js';

/**
 * What every writer writes: the blobs of an image or index, each once, children before the
 * index that names them and an image's blobs before its manifest. Layers carry their diff_id
 * check (media/diffid.ts); every blob is checked against its descriptor on the way, once.
 */
export interface OutgoingBlob {
  descriptor: Descriptor;
  /** `layer`, `config` or `manifest`, for messages. */
  what: string;
  open(): Promise<Readable>;
  /** The raw document, for a manifest or index (registries take it with a PUT of its own). */
  manifest?: RawJson<unknown>;
  /** A check beyond the digest, for a layer its diff_id; undefined when there is none. */
  check?(): Transform | undefined;
  /** A local file with exactly the blob's bytes (Layer.file), which a sink may link instead. */
  file?: string;
  /**
   * The blob's bytes, when they are in memory (a config, a manifest, an attached document): a
   * sink may check and write them at once instead of streaming them (no check() then).
   */
  bytes?: Uint8Array;
  /** A registry repository that holds the blob (Layer.registrySource), which a push may mount from. */
  registrySource?: { registry: string; repository: string };
}

/**
 * The blobs of an artifact in writing order. An index's child is opened only when its manifest
 * has not gone out yet: an index that names the same image many times (or 200,000 times) costs
 * one load of it, not one per entry.
 */
export async function* outgoingBlobs(artifact: Artifact): AsyncGenerator<OutgoingBlob> {
  const seen = new Set<string>();
  async function* visit(a: Artifact): AsyncGenerator<OutgoingBlob> {
    if (a.kind === 'index') {
      for (const d of a.manifest.value.manifests) {
        if (!seen.has(d.digest)) yield* visit(await a.child(d));
      }
    } else {
      for (const blob of imageBlobsOut(a)) {
        if (seen.has(blob.descriptor.digest)) continue;
        seen.add(blob.descriptor.digest);
        yield blob;
      }
    }
    if (seen.has(a.manifest.digest)) return;
    seen.add(a.manifest.digest);
    yield manifestOut(a.manifest);
  }
  yield* visit(artifact);
}

function imageBlobsOut(image: Image): OutgoingBlob[] {
  const config = image.config;
  return [
    {
      descriptor: image.manifest.value.config,
      what: 'config',
      open: async () => Readable.from([config.bytes]),
      bytes: config.bytes,
    },
    ...image.layers.map(layerOut),
  ];
}

export function layerOut(layer: Layer): OutgoingBlob {
  const d = layer.descriptor;
  return {
    descriptor: d,
    what: 'layer',
    open: () => layer.open(),
    check: () => diffIdCheck(layer, `layer ${d.digest}`),
    ...(layer.file !== undefined && { file: layer.file }),
    ...(layer.registrySource !== undefined && { registrySource: { ...layer.registrySource } }),
  };
}

export function manifestOut(m: RawJson<unknown>): OutgoingBlob {
  return {
    descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.bytes.length },
    what: 'manifest',
    open: async () => Readable.from([m.bytes]),
    bytes: m.bytes,
    manifest: m,
  };
}

/** Opens a blob with its checks joined on (see checksFor); the stream fails at its end on a mismatch. */
export async function openChecked(blob: OutgoingBlob): Promise<Readable> {
  const source = await blob.open();
  return joined(source, ...checksFor(source, blob));
}

/**
 * The checks a blob's bytes pass on their way out: its digest and size (unless the source stream
 * already checks exactly these, as every medium's layer streams do), then its own check.
 */
export function checksFor(source: Readable, blob: OutgoingBlob): Transform[] {
  const d = blob.descriptor;
  const out: Transform[] = [];
  if (!verifiesDescriptor(source, d)) out.push(new VerifyStream(d, `${blob.what} ${d.digest}`));
  const extra = blob.check?.();
  if (extra !== undefined) out.push(extra);
  return out;
}
