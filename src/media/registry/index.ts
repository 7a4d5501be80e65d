import { DistillError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { Artifact } from '../../oci/image.js';
import type { Descriptor } from '../../oci/types.js';
import { type DockerReference, formatDockerReference } from '../../ref/docker.js';
import type { Referrer } from '../referrer.js';
import { repositoryScope } from './auth.js';
import { RegistryClient } from './client.js';
import type { ProgressEvent, RepositoryContext } from './context.js';
import { fetchManifest, loadArtifact, resolveManifest } from './pull.js';
import { pushArtifact } from './push.js';
import { listReferrers, openReferrer, pushReferrers } from './referrers.js';
import { type RepositoryReader, repositoryReader } from './repo.js';

export { parseWwwAuthenticate } from './auth.js';
export type { ProgressEvent } from './context.js';
export { defaultDockerConfigPath, resolveCredentials } from './credentials.js';
export { MANIFEST_ACCEPT, type RawManifest } from './pull.js';
export type { RepositoryReader } from './repo.js';
export { assertSchemeAllowed, isLoopbackHost, registryBaseUrl } from './url.js';

export interface RegistryOptions {
  /** From `--creds user:pass`; wins over the Docker config. */
  creds?: { username: string; password: string };
  /** Plain HTTP to a non-loopback registry (loopback hosts always use HTTP). TLS is still verified. */
  insecure?: boolean;
  /** Default `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
  dockerConfigPath?: string;
  /** Parallel blob transfers (default 4). */
  concurrency?: number;
  /**
   * Default 0: a blob bigger than `monolithicMax` goes up in one streamed PATCH (as docker and
   * skopeo do). A size sends PATCH chunks of that size instead, for registries that cap requests.
   */
  chunkSize?: number;
  /** Blobs up to this size go up in one PUT (default 8 MiB); bigger ones streamed or in chunks. */
  monolithicMax?: number;
  /** Retries of a failed request (default 4), exponential backoff with jitter, Retry-After honoured. */
  retries?: number;
  onProgress?: (e: ProgressEvent) => void;
  /** For tests. */
  fetchImpl?: typeof fetch;
}

export const DEFAULT_MONOLITHIC_MAX = 8 * 1024 * 1024;

function context(ref: DockerReference, scopes: string[], opts: RegistryOptions): RepositoryContext {
  const client = new RegistryClient(ref.registry, {
    creds: opts.creds,
    insecure: opts.insecure,
    dockerConfigPath: opts.dockerConfigPath,
    retries: opts.retries,
    fetchImpl: opts.fetchImpl,
  });
  return { client, registry: ref.registry, repository: ref.repository, scopes, onProgress: opts.onProgress };
}

function referenceOf(ref: DockerReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/**
 * Opens the image or index a reference names on its registry. The manifest (and an image's
 * config) are fetched now and verified; an index's children load on `child()`; layers stream
 * on `open()`, verified, resuming a dropped download with a Range request.
 */
export async function openRegistry(ref: DockerReference, opts: RegistryOptions = {}): Promise<Artifact> {
  const ctx = context(ref, [repositoryScope(ref.repository, ['pull'])], opts);
  return loadArtifact(ctx, await fetchManifest(ctx, referenceOf(ref)));
}

/** The digest, media type and size of the manifest a reference names (HEAD, GET as fallback). */
export async function resolveRegistryDigest(
  ref: DockerReference,
  opts: RegistryOptions = {},
): Promise<{ digest: Digest; mediaType: string; size: number }> {
  const ctx = context(ref, [repositoryScope(ref.repository, ['pull'])], opts);
  return resolveManifest(ctx, referenceOf(ref));
}

/**
 * Pushes an image or index: every blob the registry lacks (bounded concurrency; mounted from
 * `sourceRepository` when it is on the same registry), every child manifest by digest, then
 * the root under `ref.tag`, or by digest when the reference has only a digest. `referrers`
 * (artifacts whose subject is the image or one of its children) go up after it.
 */
export async function pushToRegistry(
  ref: DockerReference,
  artifact: Artifact,
  opts: RegistryOptions & { sourceRepository?: DockerReference; referrers?: readonly Referrer[] } = {},
): Promise<{ digest: Digest; referrers: Descriptor[] }> {
  const root = artifact.manifest.digest;
  if (ref.digest !== undefined && ref.digest !== root) {
    throw new DistillError(
      'USAGE',
      `cannot push to ${formatDockerReference(ref)}: the image's digest is ${root}; drop the digest or name the right one`,
    );
  }
  const source = opts.sourceRepository;
  const mountFrom =
    source && source.registry === ref.registry && source.repository !== ref.repository
      ? source.repository
      : undefined;
  const scopes = [repositoryScope(ref.repository, ['pull', 'push'])];
  if (mountFrom !== undefined) scopes.push(repositoryScope(mountFrom, ['pull']));
  const ctx = context(ref, scopes, opts);
  const settings = {
    concurrency: Math.max(1, opts.concurrency ?? 4),
    chunkSize: Math.max(0, opts.chunkSize ?? 0),
    monolithicMax: opts.monolithicMax ?? DEFAULT_MONOLITHIC_MAX,
    mountFrom,
  };
  const digest = await pushArtifact(ctx, artifact, ref.tag ?? root, settings);
  const referrers = await pushReferrers(ctx, opts.referrers ?? [], { ...settings, mountFrom: undefined });
  return { digest, referrers };
}

/** The referrers of a digest in the repository `ref` names (the API, else the fallback tag). */
export async function listRegistryReferrers(
  ref: DockerReference,
  subject: Digest,
  opts: RegistryOptions = {},
): Promise<Descriptor[]> {
  return listReferrers(context(ref, [repositoryScope(ref.repository, ['pull'])], opts), subject);
}

/** Opens a referrer of the repository `ref` names: manifest now, blobs when read. */
export async function openRegistryReferrer(
  ref: DockerReference,
  d: Descriptor,
  opts: RegistryOptions = {},
): Promise<Referrer> {
  return openReferrer(context(ref, [repositoryScope(ref.repository, ['pull'])], opts), d);
}

/**
 * A repository read as a store of tagged documents and blobs (a remote build cache): `write`
 * asks for push access too (deleting manifests needs it).
 */
export function openRepository(
  ref: DockerReference,
  opts: RegistryOptions & { write?: boolean } = {},
): RepositoryReader {
  const scope = repositoryScope(ref.repository, opts.write ? ['pull', 'push'] : ['pull']);
  return repositoryReader(context(ref, [scope], opts));
}
