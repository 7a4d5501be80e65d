import { type BuiltLayer, buildLayer } from '../layers/build.js';
import {
  compressionKey,
  DEFAULT_LAYER_COMPRESSION,
  type LayerCompression,
  layerCompressionOptions,
} from '../layers/compression.js';
import type { LayerEntry } from '../layers/entries.js';
import { type Digest, digestOf } from '../oci/digest.js';
import type { Layer } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import type { Store } from '../store/store.js';

/**
 * Layers cached by what they are made of. The key is a digest over every entry's path, type,
 * mode, owner, link target and content digest (contents must be named by digest, which the
 * callers' store-backed sources are), plus the compression and the timestamp; a hit whose blob
 * is still in the store skips tar and gzip entirely.
 */
export interface CacheableEntry {
  entry: LayerEntry;
  /** Content identity of a file entry (sha256 of its bytes); required for files. */
  contentDigest?: Digest;
}

/** The key parts of a layer's record: the salt and a digest over every entry. */
export function layerKey(
  entries: readonly CacheableEntry[],
  salt: string,
): { salt: string; entries: Digest } {
  const parts = entries.map(({ entry: e, contentDigest }) => {
    switch (e.type) {
      case 'file':
        return [
          'f',
          e.path,
          e.mode ?? '',
          e.uid ?? '',
          e.gid ?? '',
          contentDigest ?? '',
          JSON.stringify(e.xattrs ?? {}),
        ];
      case 'dir':
        return ['d', e.path, e.mode ?? '', e.uid ?? '', e.gid ?? ''];
      case 'symlink':
        return ['s', e.path, e.target, e.uid ?? '', e.gid ?? ''];
      case 'hardlink':
        return ['h', e.path, e.target];
      default:
        return [];
    }
  });
  return { salt, entries: digestOf(JSON.stringify(parts)) };
}

export async function cachedLayer(
  store: Store,
  entries: readonly CacheableEntry[],
  opts: { sourceDateEpoch: number; compression?: LayerCompression; onHit?: () => void },
): Promise<Layer> {
  const c = opts.compression ?? DEFAULT_LAYER_COMPRESSION;
  const build = { store, sourceDateEpoch: opts.sourceDateEpoch, ...layerCompressionOptions(c) };
  for (const e of entries) {
    if (e.entry.type === 'file' && e.contentDigest === undefined) {
      // Not cacheable by content: build it every time.
      return buildLayer(
        entries.map((x) => x.entry),
        build,
      );
    }
  }
  const key = layerRecordKey(entries, { ...opts, compression: c });
  const records = store.record('layer');
  const hit = await records.get(key, { usable: (r) => store.has(r.descriptor.digest) });
  if (hit) {
    opts.onHit?.();
    return storedLayer(store, hit);
  }
  const layer: BuiltLayer = await buildLayer(
    entries.map((x) => x.entry),
    build,
  );
  await records.put(key, { descriptor: layer.descriptor, diffId: layer.diffId });
  return {
    descriptor: layer.descriptor,
    diffId: layer.diffId,
    diffIdChecked: true,
    open: () => layer.open(),
    ...storeFile(store, layer.descriptor.digest),
  };
}

/** The key parts of the `layer` record of these entries, compressed so, at this epoch. */
export function layerRecordKey(
  entries: readonly CacheableEntry[],
  opts: { sourceDateEpoch: number; compression?: LayerCompression },
): { salt: string; entries: Digest } {
  const c = opts.compression ?? DEFAULT_LAYER_COMPRESSION;
  return layerKey(entries, `${compressionKey(c)}:${opts.sourceDateEpoch}`);
}

/**
 * A layer a record names, read from the store. Its diff_id counts as checked: it was recorded
 * from buildLayer, which computed it from these bytes, or checked as the blob came in from a
 * remote cache.
 */
export function storedLayer(store: Store, rec: { descriptor: Descriptor; diffId: Digest }): Layer {
  const d = rec.descriptor;
  return {
    descriptor: d,
    diffId: rec.diffId,
    diffIdChecked: true,
    open: () => store.open(d.digest, d.size),
    ...storeFile(store, d.digest),
    ...mountable(store, d.digest),
  };
}

/**
 * The store's file of a blob, for a writer to link, when it is there: none for a remote cache
 * hit's blob not brought in yet (decision 0036), which `open` brings in when it is read.
 */
export function storeFile(store: Store, digest: Digest): Pick<Layer, 'file'> {
  const file = store.localFile(digest);
  return file === undefined ? {} : { file };
}

/** Where a push to the same registry may mount a blob from: the remote cache it came from. */
export function mountable(store: Store, digest: Digest): Pick<Layer, 'registrySource'> {
  const source = store.remoteSource(digest);
  return source === undefined ? {} : { registrySource: source };
}

/** A file entry whose bytes are in memory, with its content digest for the cache key. */
export function bytesEntry(
  path: string,
  bytes: Uint8Array,
  mode = 0o644,
  owner?: { uid: number; gid: number },
): CacheableEntry {
  return {
    entry: { type: 'file', path, mode, ...owner, source: { kind: 'bytes', bytes } },
    contentDigest: digestOf(bytes),
  };
}
