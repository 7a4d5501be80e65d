import type { Readable } from 'node:stream';
import { isDistillError } from '../errors.js';
import { diffIdCheck } from '../media/diffid.js';
import { joined } from '../media/streams.js';
import type { Digest } from '../oci/digest.js';
import type { Image, Layer, RawJson } from '../oci/image.js';
import { rawJsonFromValue } from '../oci/image.js';
import { MediaType } from '../oci/mediatypes.js';
import type { ImageConfigJson, ManifestJson } from '../oci/types.js';
import { parseImageRef } from '../ref/transport.js';
import type { KeyParts } from '../store/records.js';
import type { RemoteRecord, RemoteRecords, SharedKind } from '../store/remote.js';
import type { Store } from '../store/store.js';
import type { CacheBackend } from './backend.js';
import { checkEntryManifest, checkEntryRecord, encodeEntry, entryKey, entryTag } from './entry.js';
import { blobsOf, type CacheBlob } from './kinds.js';

export interface RemoteCacheOptions {
  /** Caches looked up, in order (`--cache`, then each `--cache-from`). */
  from: readonly CacheBackend[];
  /** Caches written (`--cache`, `--cache-to`). */
  to: readonly CacheBackend[];
  warn: (message: string) => void;
  /**
   * What the build writes (image references). When every one is a registry on the registry a
   * cache is in, a hit's layers from that cache are left there (decision 0036): the push mounts
   * them, and anything that reads one brings it in then. Otherwise (a local output, another
   * registry, or not given) they are brought in at the hit, where a bad blob is still a miss.
   */
  outputs?: readonly string[];
  /** Told of each hit and each entry written, for reports and tests. */
  onEvent?: (e: { kind: SharedKind; event: 'hit' | 'write'; cache: string }) => void;
}

/**
 * The remote build cache (decision 0022): the store's records of shared kinds, looked up in
 * the `from` caches on a local miss and written to the `to` caches. A hit's blobs are brought
 * into the store, verified by digest (and a layer's by diff_id), before the record is used, and
 * noted as mountable from the cache's repository. Nothing here fails a build: an entry that is
 * missing, corrupt or of another key is a miss (with a warning when it was there but wrong),
 * and a cache that cannot be reached or written is a warning. Writes run in the background;
 * `flush` waits for them.
 */
export class RemoteCache implements RemoteRecords {
  private readonly writes = new Map<string, Promise<void>>();
  /** A cache that failed to answer is not asked again in this build (one warning, no waits). */
  private readonly down = new Set<CacheBackend>();
  /** Entries found there but unusable (`cache\ntag`): a write replaces them. */
  private readonly bad = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly opts: RemoteCacheOptions,
  ) {}

  async get(kind: SharedKind, version: number, parts: KeyParts): Promise<RemoteRecord | undefined> {
    for (const cache of this.opts.from) {
      if (this.down.has(cache)) continue;
      try {
        const found = await this.lookup(cache, kind, version, parts);
        if (found) {
          this.opts.onEvent?.({ kind, event: 'hit', cache: cache.name });
          return found;
        }
      } catch (err) {
        this.failed(
          cache,
          `reading the ${kind} entry ${entryTag(kind, version, parts)} of the cache ${cache.name}`,
          err,
        );
      }
    }
    return undefined;
  }

  private async lookup(cache: CacheBackend, kind: SharedKind, version: number, parts: KeyParts) {
    const tag = entryTag(kind, version, parts);
    const m = await cache.manifest(tag);
    if (!m) return undefined;
    const where = `${cache.name}:${tag}`;
    try {
      const manifest = checkEntryManifest(m.bytes, entryKey(kind, version, parts), where);
      const config = await readAll(await cache.openBlob(manifest.config));
      const { record, blobs } = checkEntryRecord(config, manifest, { kind, version, parts }, where);
      for (const b of blobs) await this.bringIn(cache, b, where);
      return { value: record.value, at: record.at };
    } catch (err) {
      // There, but not usable: corrupt, tampered with or of another key. Never used.
      this.bad.add(`${cache.name}\n${tag}`);
      // A blob that failed on its way in: what went wrong with it (the entry is rebuilt).
      const why = isDistillError(err, 'CACHE_BLOB_UNAVAILABLE') ? err.cause : err;
      this.opts.warn(`ignored the cache entry ${where}: ${errorMessage(why)}`);
      return undefined;
    }
  }

  /**
   * A blob of a hit, noted in the store as the cache's (verified by digest, and a layer by
   * diff_id, whenever it comes in), and brought in now unless it is a layer the outputs mount.
   */
  private async bringIn(cache: CacheBackend, b: CacheBlob, where: string): Promise<void> {
    const d = b.descriptor;
    if (cache.source !== undefined) this.store.noteRemoteSource(d.digest, cache.source);
    if ((await this.store.localSize(d.digest)) === d.size) return;
    const open = async () => {
      const stream = await cache.openBlob(d);
      const check =
        b.diffId === undefined
          ? undefined
          : diffIdCheck(
              { descriptor: d, diffId: b.diffId, open: async () => stream },
              `layer ${d.digest} of ${where}`,
            );
      return check ? joined(stream, check) : stream;
    };
    this.store.noteRemoteBlob(d.digest, {
      size: d.size,
      where,
      open,
      ...(cache.source !== undefined && { source: cache.source }),
    });
    if (b.diffId === undefined || !this.leftRemote(cache)) await this.store.file(d.digest);
  }

  /** Whether a hit's layers may stay in `cache`: every output is a registry on its registry. */
  private leftRemote(cache: CacheBackend): boolean {
    const src = cache.source;
    const outputs = this.opts.outputs ?? [];
    if (src === undefined || outputs.length === 0) return false;
    return outputs.every((o) => {
      const ref = parseImageRef(o);
      return ref.transport === 'docker' && ref.ref.registry === src.registry;
    });
  }

  put(kind: SharedKind, version: number, parts: KeyParts, record: RemoteRecord): void {
    for (const cache of this.opts.to) {
      const id = `${cache.name}\n${entryTag(kind, version, parts)}`;
      if (this.writes.has(id) || this.down.has(cache)) continue;
      const what = `writing the ${kind} entry ${entryTag(kind, version, parts)} to the cache ${cache.name}`;
      const work = this.write(cache, kind, version, parts, record).catch((err: unknown) =>
        this.failed(cache, what, err),
      );
      this.writes.set(id, work);
    }
  }

  private async write(
    cache: CacheBackend,
    kind: SharedKind,
    version: number,
    parts: KeyParts,
    r: RemoteRecord,
  ) {
    const tag = entryTag(kind, version, parts);
    // An entry there already is kept (of the same key, it names the same result), unless it
    // was found unusable.
    if (!this.bad.has(`${cache.name}\n${tag}`) && (await cache.manifest(tag))) return;
    const plain = JSON.parse(JSON.stringify(parts)) as KeyParts;
    const blobs = blobsOf(kind, r.value);
    const { config, manifest } = encodeEntry(
      { kind, version, parts: plain, at: r.at, value: r.value },
      blobs,
    );
    await cache.push(tag, entryImage(this.store, manifest, config, blobs));
    this.opts.onEvent?.({ kind, event: 'write', cache: cache.name });
  }

  private failed(cache: CacheBackend, what: string, err: unknown): void {
    if (this.down.has(cache)) return;
    this.down.add(cache);
    this.opts.warn(`${what} failed; the build goes on without this cache: ${errorMessage(err)}`);
  }

  /** Waits for the writes started so far (they never reject: a failure is a warning). */
  async flush(): Promise<void> {
    await Promise.all(this.writes.values());
  }
}

/** An entry as an Image the registry writer pushes: its blobs open from the store. */
function entryImage(
  store: Store,
  manifest: ManifestJson,
  config: Buffer,
  blobs: readonly CacheBlob[],
): Image {
  const raw = rawJsonFromValue(manifest, MediaType.OciManifest);
  const configRaw = {
    bytes: config,
    value: {},
    digest: manifest.config.digest,
    mediaType: manifest.config.mediaType,
  };
  const layers: Layer[] = blobs.map((b) => ({
    descriptor: b.descriptor,
    diffId: b.diffId ?? b.descriptor.digest,
    diffIdChecked: true, // the store's blob: computed by distill, or checked as it came in
    open: () => store.open(b.descriptor.digest, b.descriptor.size),
    ...localFileOf(store, b.descriptor.digest),
  }));
  return { kind: 'image', manifest: raw, config: configRaw as unknown as RawJson<ImageConfigJson>, layers };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The store's file of a blob to link, unless it is a remote blob not brought in (decision 0036). */
function localFileOf(store: Store, digest: Digest): { file?: string } {
  const file = store.localFile(digest);
  return file === undefined ? {} : { file };
}
