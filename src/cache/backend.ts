import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { DistillError } from '../errors.js';
import { blobPath, openVerified } from '../media/blobs.js';
import { DirectorySource } from '../media/layout/directory.js';
import { REF_NAME, readBlob, readLayoutIndex } from '../media/layout/read.js';
import { writeLayoutDir } from '../media/layout/write.js';
import { openRepository, pushToRegistry, type RegistryOptions } from '../media/registry/index.js';
import type { Digest } from '../oci/digest.js';
import type { Image } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { parseDockerReference } from '../ref/docker.js';
import { formatImageRef, type ImageRef, parseImageRef } from '../ref/transport.js';
import type { RemoteSource } from '../store/remote.js';

/**
 * Where a remote cache's entries live: a registry repository (`docker://HOST/REPO`, or a bare
 * `HOST/REPO`), through the one registry client of src/media, or an OCI layout directory
 * (`oci:DIR`, a cache on a shared disk), through its reader and writer. Reads are by tag and
 * verified; writes are pushes (or layout writes) like any image's.
 */
export interface CacheBackend {
  /** The reference as the user gave it, for messages. */
  readonly name: string;
  /** The repository blobs can be mounted from by a push to the same registry (none for a layout). */
  readonly source?: RemoteSource;
  /** The manifest a tag names (its bytes, verified against its digest); undefined when there is none. */
  manifest(tag: string): Promise<{ bytes: Uint8Array; digest: Digest } | undefined>;
  /** A blob, verified against its descriptor as it is read. */
  openBlob(d: Descriptor): Promise<Readable>;
  /** Pushes an entry under `tag`. */
  push(tag: string, image: Image): Promise<void>;
  /** Every tag of the repository. */
  tags(): Promise<string[]>;
  deleteManifest(digest: Digest): Promise<void>;
}

/** The cache a `--cache`, `--cache-from` or `--cache-to` REF names. */
export function cacheBackend(ref: string, registry: RegistryOptions, write: boolean): CacheBackend {
  let parsed: ImageRef;
  try {
    const transport = /^(oci|oci-archive|docker-archive|docker-daemon):|^[a-z]+:\/\//.test(ref);
    parsed = parseImageRef(transport ? ref : `docker://${ref}`);
  } catch (err) {
    throw new DistillError(
      'USAGE',
      `the cache ${ref} is not a registry reference: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (parsed.transport === 'oci' && parsed.tag === undefined) return layoutBackend(parsed.path);
  const tagged =
    parsed.transport === 'docker' &&
    parseDockerReference(ref.replace(/^docker:\/\//, ''), { defaultTag: false }).tag !== undefined;
  if (parsed.transport !== 'docker' || parsed.ref.digest !== undefined || tagged) {
    throw new DistillError(
      'USAGE',
      `the cache ${ref} must name a registry repository (docker://HOST/REPO) or an OCI layout directory (oci:DIR), not ${formatImageRef(parsed)}`,
    );
  }
  const repo = { registry: parsed.ref.registry, repository: parsed.ref.repository };
  // A cache that fails is skipped, not waited for: one retry (an output push makes four).
  const opts: RegistryOptions = { ...registry, retries: registry.retries ?? 1 };
  const reader = openRepository(repo, { ...opts, write });
  return {
    name: `docker://${repo.registry}/${repo.repository}`,
    source: repo,
    manifest: async (tag) => {
      const m = await reader.manifest(tag);
      return m && { bytes: m.bytes, digest: m.digest };
    },
    openBlob: (d) => reader.openBlob(d),
    push: async (tag, image) => {
      await pushToRegistry({ ...repo, tag }, image, opts);
    },
    tags: () => reader.tags(),
    deleteManifest: (digest) => reader.deleteManifest(digest),
  };
}

/** The last write queued per layout directory in this process: each write rewrites index.json. */
const layoutWrites = new Map<string, Promise<void>>();

/**
 * An OCI layout directory as a cache. Entries are tags in its index.json. One process writes its
 * entries one at a time; two processes writing at once may each replace index.json with their
 * own addition, so one of the two entries can be lost (a later miss, never a wrong hit).
 * Pruning is a registry's: a layout cache is removed whole.
 */
function layoutBackend(path: string): CacheBackend {
  const dir = resolve(path);
  const files = new DirectorySource(dir, `OCI layout ${dir}`);
  const noPrune = async (): Promise<never> => {
    throw new DistillError(
      'USAGE',
      `cache prune REF works on a registry cache; remove the layout ${dir} to empty it`,
    );
  };
  return {
    name: `oci:${path}`,
    manifest: async (tag) => {
      if (!(await files.exists('index.json'))) return undefined;
      const d = (await readLayoutIndex(files)).manifests.find((m) => m.annotations?.[REF_NAME] === tag);
      return d && { bytes: await readBlob(files, d, 'manifest', 'manifest'), digest: d.digest };
    },
    openBlob: (d) => openVerified(files, blobPath(d), d, 'blob'),
    push: (tag, image) => {
      const write = (layoutWrites.get(dir) ?? Promise.resolve()).then(async () => {
        await writeLayoutDir(dir, tag, image);
      });
      layoutWrites.set(
        dir,
        write.catch(() => {}),
      );
      return write;
    },
    tags: noPrune,
    deleteManifest: noPrune,
  };
}
