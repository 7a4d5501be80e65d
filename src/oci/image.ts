import type { Readable } from 'node:stream';
import { DistillError, isDistillError } from '../errors.js';
import { type Digest, digestOf } from './digest.js';
import { checkJsonSize } from './limits.js';
import { isImageManifest, isIndex, MediaType } from './mediatypes.js';
import type { Descriptor, ImageConfigJson, IndexJson, ManifestJson } from './types.js';
import {
  parseJsonDocument,
  sniffManifestKind,
  validateConfig,
  validateIndex,
  validateManifest,
} from './validate.js';

/**
 * The image model: small read-only interfaces that every medium implements (go-containerregistry's
 * pkg/v1 shape). Manifests and configs are small and loaded when the image is opened; layer bytes
 * are opened lazily. Raw bytes are kept beside the parsed value: digests are of the raw bytes,
 * never of a re-serialization.
 */
export interface RawJson<T> {
  readonly bytes: Uint8Array;
  readonly value: T;
  readonly digest: Digest;
  readonly mediaType: string;
}

export function rawJsonFromValue<T>(value: T, mediaType: string): RawJson<T> {
  const bytes = Buffer.from(JSON.stringify(value), 'utf8');
  return { bytes, value, digest: digestOf(bytes), mediaType };
}

export function descriptorOf(raw: RawJson<unknown>, extra: Partial<Descriptor> = {}): Descriptor {
  return { mediaType: raw.mediaType, digest: raw.digest, size: raw.bytes.length, ...extra };
}

/** A blob of an image: opening it yields bytes verified against the descriptor by the medium. */
export interface Layer {
  /** As the manifest lists it: media type, digest and size of the (compressed) blob. */
  readonly descriptor: Descriptor;
  /** Digest of the uncompressed tar, from the config's rootfs.diff_ids. */
  readonly diffId: Digest;
  /**
   * True when `diffId` was computed by distill from these very bytes (a layer it built): writers
   * need not decompress the layer to check it. Layers read from any medium leave it unset, and
   * every writer checks their diff_id on the way (media/diffid.ts).
   */
  readonly diffIdChecked?: boolean;
  /** Opens the blob. The stream errors at its end if the bytes do not match the descriptor. */
  open(): Promise<Readable>;
  /**
   * A local file that holds exactly the blob's bytes (a cache entry), when there is one: a
   * medium writing to the same filesystem may hard-link it instead of copying, after checking
   * it against the descriptor.
   */
  readonly file?: string;
  /**
   * A registry repository that holds exactly this blob (a remote build cache's entry): a
   * registry writer on the same registry may mount it from there instead of uploading it.
   */
  readonly registrySource?: { readonly registry: string; readonly repository: string };
}

export interface Image {
  readonly kind: 'image';
  readonly manifest: RawJson<ManifestJson>;
  readonly config: RawJson<ImageConfigJson>;
  readonly layers: readonly Layer[];
}

export interface ImageIndex {
  readonly kind: 'index';
  readonly manifest: RawJson<IndexJson>;
  /** Opens the image or nested index a descriptor of `manifest.value.manifests` points at. */
  child(descriptor: Descriptor): Promise<Image | ImageIndex>;
}

export type Artifact = Image | ImageIndex;

/** Parses raw manifest bytes as an image manifest, checking the digest when one is expected. */
export function parseManifest(
  bytes: Uint8Array,
  mediaType: string | undefined,
  what: string,
): RawJson<ManifestJson> {
  const value = validateManifest(parseJsonDocument(bytes, what, 'manifest'), what);
  return {
    bytes,
    value,
    digest: digestOf(bytes),
    mediaType: mediaType ?? value.mediaType ?? MediaType.OciManifest,
  };
}

export function parseIndex(
  bytes: Uint8Array,
  mediaType: string | undefined,
  what: string,
): RawJson<IndexJson> {
  const value = validateIndex(parseJsonDocument(bytes, what, 'index'), what);
  return {
    bytes,
    value,
    digest: digestOf(bytes),
    mediaType: mediaType ?? value.mediaType ?? MediaType.OciIndex,
  };
}

export function parseConfig(
  bytes: Uint8Array,
  descriptor: Descriptor,
  layerCount: number,
  what: string,
): RawJson<ImageConfigJson> {
  let json: unknown;
  try {
    json = parseJsonDocument(bytes, what, 'config');
  } catch (err) {
    if (isDistillError(err, 'DOCUMENT_TOO_LARGE')) throw err;
    throw new DistillError('CONFIG_INVALID', (err as Error).message, { cause: err });
  }
  const value = validateConfig(json, layerCount, what);
  return { bytes, value, digest: descriptor.digest, mediaType: descriptor.mediaType };
}

/**
 * Assembles an Image from a parsed manifest, its config bytes and a way to open layer blobs.
 * Shared by every medium so that all of them pair layers with diff_ids the same way.
 */
export function assembleImage(
  manifest: RawJson<ManifestJson>,
  config: RawJson<ImageConfigJson>,
  openLayer: (descriptor: Descriptor) => Promise<Readable>,
): Image {
  const diffIds = config.value.rootfs.diff_ids;
  const layers: Layer[] = manifest.value.layers.map((descriptor, i) => ({
    descriptor,
    diffId: diffIds[i]!,
    open: () => openLayer(descriptor),
  }));
  return { kind: 'image', manifest, config, layers };
}

/** How a medium reaches the blobs around a manifest (no I/O here: the medium does it). */
export interface ManifestBlobs {
  /** Where the blobs are, for messages: `OCI layout ./out`, `ghcr.io/acme/app`. */
  where: string;
  /** A config blob, whole and verified against its descriptor. */
  readConfig(d: Descriptor): Promise<Uint8Array>;
  /** A layer blob as a stream that the medium verifies. */
  openLayer(d: Descriptor): Promise<Readable>;
  /** The image or index a child descriptor of an index names. */
  child(d: Descriptor): Promise<Artifact>;
}

/**
 * Turns manifest bytes into the image model, the same way for every medium: an index whose
 * children load lazily, or an image with its config read now and its layers opened lazily.
 * The kind comes from the media type, else from the document's own mediaType or shape.
 */
export async function loadManifest(
  bytes: Uint8Array,
  mediaType: string | undefined,
  digest: Digest,
  blobs: ManifestBlobs,
): Promise<Artifact> {
  const what = `manifest ${digest} in ${blobs.where}`;
  let kind: 'image' | 'index' | undefined;
  if (isImageManifest(mediaType)) kind = 'image';
  else if (isIndex(mediaType)) kind = 'index';
  else kind = sniffManifestKind(parseJsonDocument(bytes, what, 'index'));
  if (kind === 'index') {
    return { kind: 'index', manifest: parseIndex(bytes, mediaType, what), child: (d) => blobs.child(d) };
  }
  if (kind !== 'image') {
    throw new DistillError(
      'MEDIA_TYPE_UNSUPPORTED',
      `${what} has media type ${mediaType ?? '(none)'}, which is neither an image manifest nor an index`,
    );
  }
  const manifest = parseManifest(bytes, mediaType, what);
  const cd = manifest.value.config;
  // The descriptor says how much the medium will read (it verifies the size): check the cap first.
  checkJsonSize('config', cd.size, `config ${cd.digest} in ${blobs.where}`);
  const config = parseConfig(
    await blobs.readConfig(cd),
    cd,
    manifest.value.layers.length,
    `config ${cd.digest} in ${blobs.where}`,
  );
  return assembleImage(manifest, config, (d) => blobs.openLayer(d));
}

/** Every blob an image references, config first, in manifest order, without duplicates. */
export function imageBlobs(image: Image): Descriptor[] {
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const d of [image.manifest.value.config, ...image.manifest.value.layers]) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    out.push(d);
  }
  return out;
}
