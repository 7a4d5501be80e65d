import type { Readable } from 'node:stream';
import { DistillError } from '../errors.js';
import { openRepository, pushToRegistry, type RegistryOptions } from '../media/registry/index.js';
import type { Digest } from '../oci/digest.js';
import type { Image } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { formatImageRef, type ImageRef, parseImageRef } from '../ref/transport.js';
import type { RemoteSource } from '../store/remote.js';

/**
 * Where a remote cache's entries live: a registry repository (`docker://HOST/REPO`, or a bare
 * `HOST/REPO`), through the one registry client of src/media. Reads are by tag and verified;
 * writes are pushes like any image's.
 */
export interface CacheBackend {
  /** The reference as the user gave it, for messages. */
  readonly name: string;
  /** The repository blobs can be mounted from by a push to the same registry. */
  readonly source: RemoteSource;
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
    parsed = parseImageRef(ref.includes('://') || ref.includes(':/') ? ref : `docker://${ref}`);
  } catch (err) {
    throw new DistillError(
      'USAGE',
      `the cache ${ref} is not a registry reference: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (parsed.transport !== 'docker' || parsed.ref.digest !== undefined) {
    throw new DistillError(
      'USAGE',
      `the cache ${ref} must name a registry repository (docker://HOST/REPO), not ${formatImageRef(parsed)}`,
    );
  }
  const repo = { registry: parsed.ref.registry, repository: parsed.ref.repository };
  const reader = openRepository(repo, { ...registry, write });
  return {
    name: `docker://${repo.registry}/${repo.repository}`,
    source: repo,
    manifest: async (tag) => {
      const m = await reader.manifest(tag);
      return m && { bytes: m.bytes, digest: m.digest };
    },
    openBlob: (d) => reader.openBlob(d),
    push: async (tag, image) => {
      await pushToRegistry({ ...repo, tag }, image, registry);
    },
    tags: () => reader.tags(),
    deleteManifest: (digest) => reader.deleteManifest(digest),
  };
}
