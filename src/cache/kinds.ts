import { DistillError } from '../errors.js';
import { type Digest, isDigest } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import type { SharedKind } from '../store/remote.js';

/**
 * The blobs each shared record's value names (store/remote.ts): what a cache entry carries
 * besides the record, brought into the store (verified) before the record is used. A layer's
 * diff_id comes with it, so that it is checked on the way in as well.
 */
export interface CacheBlob {
  descriptor: Descriptor;
  /** For a compressed layer: the digest of its tar, checked as it is brought in. */
  diffId?: Digest;
}

/** A plain file's bytes (Node's binary, its licence): no media type of its own. */
const FILE_MEDIA_TYPE = 'application/octet-stream';

function bad(kind: string, what: string): DistillError {
  return new DistillError('MANIFEST_INVALID', `the cache entry's ${kind} record has ${what}`);
}

function object(v: unknown, kind: string, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(kind, `no ${field} object`);
  return v as Record<string, unknown>;
}

function digest(v: unknown, kind: string, field: string): Digest {
  if (typeof v !== 'string' || !isDigest(v)) throw bad(kind, `an invalid digest in ${field}`);
  return v;
}

function size(v: unknown, kind: string, field: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    throw bad(kind, `an invalid size in ${field}`);
  return v;
}

/** `{digest, size}` (and a media type, else a plain file's). */
function descriptor(v: unknown, kind: string, field: string): Descriptor {
  const o = object(v, kind, field);
  const mediaType = o.mediaType === undefined ? FILE_MEDIA_TYPE : o.mediaType;
  if (typeof mediaType !== 'string') throw bad(kind, `an invalid media type in ${field}`);
  return {
    mediaType,
    digest: digest(o.digest, kind, `${field}.digest`),
    size: size(o.size, kind, `${field}.size`),
  };
}

function layer(value: unknown, kind: string): CacheBlob[] {
  const o = object(value, kind, 'value');
  return [
    { descriptor: descriptor(o.descriptor, kind, 'descriptor'), diffId: digest(o.diffId, kind, 'diffId') },
  ];
}

/** A value that names no blob (an object, as every such kind's is). */
function plainData(value: unknown, kind: string): CacheBlob[] {
  object(value, kind, 'value');
  return [];
}

/**
 * Per architecture, the image's manifest and config (media types their own) and its layers with
 * their diff_ids; the libraries are plain data, checked for their shape.
 */
function baseOs(value: unknown, kind: string): CacheBlob[] {
  const blobs: CacheBlob[] = [];
  for (const [arch, v] of Object.entries(object(value, kind, 'value'))) {
    const o = object(v, kind, arch);
    blobs.push({ descriptor: descriptor(o.manifest, kind, `${arch}.manifest`) });
    blobs.push({ descriptor: descriptor(o.config, kind, `${arch}.config`) });
    if (!Array.isArray(o.layers)) throw bad(kind, `no ${arch}.layers list`);
    for (const [i, l] of o.layers.entries()) blobs.push(...layer(l, `${kind} ${arch}.layers[${i}]`));
    const pair = (p: unknown) => Array.isArray(p) && p.length === 2 && p.every((x) => typeof x === 'string');
    if (!Array.isArray(o.libraries) || !o.libraries.every(pair)) throw bad(kind, `no ${arch}.libraries list`);
  }
  return blobs;
}

const BLOBS: Record<SharedKind, (value: unknown, kind: string) => CacheBlob[]> = {
  /** The production node_modules layer, recorded only once its native files passed the checks. */
  'node-modules': layer,
  /** What the smoke check reads of that layer: plain data. */
  'node-modules-index': plainData,
  /** Any layer by its entries: Node's, the OS packages', --writable's. */
  layer,
  /** The base's lock resolution: plain data (a day's time to live, as locally). */
  'base-lock': plainData,
  /** distill's base images of a lock and their libraries: a hit reads no .deb (build/app/base-os.ts). */
  'base-os': baseOs,
  /**
   * Which release archive a Node version is: the archive itself is not carried (a build reads
   * only bin/node and LICENSE, below), so the local record misses when the archive is needed.
   */
  'node-tarball': (v, k) => {
    descriptor(object(v, k, 'value').tarball, k, 'tarball');
    return [];
  },
  /** Node's binary and licence, by the archive's digest. */
  'node-runtime': (v, k) => {
    const o = object(v, k, 'value');
    if (typeof o.abi !== 'string') throw bad(k, 'no abi');
    return [
      { descriptor: descriptor(o.binary, k, 'binary') },
      { descriptor: descriptor(o.license, k, 'license') },
    ];
  },
  /** The Node releases published for a build's architectures (a day's time to live, as locally). */
  'build-node': plainData,
  /** The version a package manager spec resolves to, and its integrity (a day's time to live, as locally). */
  'build-pm': (v, k) => {
    const o = object(v, k, 'value');
    if (typeof o.version !== 'string' || o.version.length === 0 || o.version.length > 256) {
      throw bad(k, 'no version string');
    }
    if (o.integrity !== undefined && (typeof o.integrity !== 'string' || o.integrity.length > 1024)) {
      throw bad(k, 'an integrity that is not a string');
    }
    return [];
  },
  /**
   * Node's layer by the release's integrity (build/node-layer.ts): the layer, with its diff_id;
   * the files in it and the ABI are plain data, checked for their shape. A hit reads no release.
   */
  'node-layer': (v, k) => {
    const o = object(v, k, 'value');
    if (typeof o.abi !== 'string') throw bad(k, 'no abi');
    descriptor(o.binary, k, 'binary');
    descriptor(o.license, k, 'license');
    return layer(o.layer, k);
  },
};

/** The blobs a shared record's value names; MANIFEST_INVALID when the value is not of the kind's shape. */
export function blobsOf(kind: SharedKind, value: unknown): CacheBlob[] {
  return BLOBS[kind](value, kind);
}
