import { DistillError } from '../../errors.js';
import { type Digest, digestAlgorithm } from '../../oci/digest.js';
import type { Artifact, RawJson } from '../../oci/image.js';
import { type OutgoingBlob, outgoingBlobs } from '../outgoing.js';
import { repositoryScope } from './auth.js';
import { drain } from './client.js';
import type { RepositoryContext } from './context.js';
import { forEachLimited } from './pool.js';
import { backoffMs, sleep } from './retry.js';
import { blobExists, RestartUpload, startUpload } from './session.js';
import { readSmall, uploadChunked, uploadMonolithic, uploadStreamed } from './upload.js';

/**
 * Pushing an image or index: every blob the registry lacks (bounded concurrency, mounted from
 * another repository when it can be), then the manifests, children before the index that names
 * them, the root last under its tag.
 */

export interface PushSettings {
  concurrency: number;
  /** 0: a big blob goes up in one streamed PATCH; otherwise in PATCH chunks of this size. */
  chunkSize: number;
  monolithicMax: number;
  /** A repository on the same registry to mount blobs from instead of uploading them. */
  mountFrom?: string | undefined;
}

/** Manifests in push order: every child before the index that names it; the root last. */
interface PushPlan {
  blobs: OutgoingBlob[];
  manifests: RawJson<unknown>[];
}

/** Walks an artifact (an index's children recursively) for its blobs and manifests, each once. */
export async function planPush(artifact: Artifact): Promise<PushPlan> {
  const plan: PushPlan = { blobs: [], manifests: [] };
  for await (const blob of outgoingBlobs(artifact)) {
    if (blob.manifest !== undefined) plan.manifests.push(blob.manifest);
    else plan.blobs.push(blob);
  }
  return plan;
}

/** Pushes every blob (bounded concurrency), then the manifests, the root under `reference`. */
export async function pushArtifact(
  ctx: RepositoryContext,
  artifact: Artifact,
  reference: string,
  settings: PushSettings,
): Promise<Digest> {
  const plan = await planPush(artifact);
  const blobCtx = withMountScopes(ctx, plan.blobs);
  await forEachLimited(plan.blobs, settings.concurrency, (b) => pushBlob(blobCtx, b, settings));
  const root = plan.manifests[plan.manifests.length - 1]!;
  for (const m of plan.manifests) await putManifest(ctx, m, m === root ? reference : m.digest);
  return root.digest;
}

/** The repository a blob may be mounted from: its own source on this registry, else the push's. */
function mountSource(ctx: RepositoryContext, blob: OutgoingBlob, settings: PushSettings): string | undefined {
  return ownSource(ctx, blob) ?? settings.mountFrom;
}

/** The blob's own source (Layer.registrySource) when it is another repository of this registry. */
function ownSource(ctx: RepositoryContext, blob: OutgoingBlob): string | undefined {
  const own = blob.registrySource;
  return own !== undefined && own.registry === ctx.registry && own.repository !== ctx.repository
    ? own.repository
    : undefined;
}

/** With pull access to the repositories blobs are mounted from (a remote build cache's). */
function withMountScopes(ctx: RepositoryContext, blobs: readonly OutgoingBlob[]): RepositoryContext {
  const scopes = [...ctx.scopes];
  for (const b of blobs) {
    const own = b.registrySource;
    if (own === undefined || own.registry !== ctx.registry || own.repository === ctx.repository) continue;
    const scope = repositoryScope(own.repository, ['pull']);
    if (!scopes.includes(scope)) scopes.push(scope);
  }
  return scopes.length === ctx.scopes.length ? ctx : { ...ctx, scopes };
}

export async function pushBlob(
  ctx: RepositoryContext,
  blob: OutgoingBlob,
  settings: PushSettings,
): Promise<void> {
  const d = blob.descriptor;
  const skip = () => ctx.onProgress?.({ digest: d.digest, done: d.size, total: d.size, phase: 'skip' });
  // A blob with a source of its own here (a remote build cache's layer, which distill may not
  // even have brought in: decision 0036) is mounted without asking first: the mount's answer
  // says whether the registry has it, one round trip per layer less. Asked only when it fails.
  const direct = ownSource(ctx, blob) !== undefined;
  if (!direct && (await blobExists(ctx, d))) return skip();
  let small: Buffer | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      let location: URL | 'mounted';
      const from = mountSource(ctx, blob, settings);
      if (from !== undefined && attempt === 0) location = await startUpload(ctx, d, from);
      else location = await startUpload(ctx, d);
      if (location === 'mounted') {
        ctx.onProgress?.({ digest: d.digest, done: d.size, total: d.size, phase: 'mount' });
        return;
      }
      // Not mountable, but maybe here already: the session opened is left to expire.
      if (direct && attempt === 0 && (await blobExists(ctx, d))) return skip();
      if (d.size <= settings.monolithicMax) {
        small ??= await readSmall(blob);
        await uploadMonolithic(ctx, d, small, location);
      } else if (settings.chunkSize > 0) {
        await uploadChunked(ctx, blob, location, settings.chunkSize);
      } else {
        await uploadStreamed(ctx, blob, location);
      }
      return;
    } catch (err) {
      if (!(err instanceof RestartUpload)) throw err;
      if (attempt >= ctx.client.retries) {
        throw new DistillError(
          err.reason.code,
          `${err.reason.message}; gave up after ${attempt + 1} attempts`,
          {
            cause: err.reason,
          },
        );
      }
      await sleep(backoffMs(attempt));
    }
  }
}

/**
 * PUTs a manifest's raw bytes with its own media type, under a tag or its digest. Returns the
 * `OCI-Subject` header: a registry with the referrers API sends it when it indexed the subject.
 */
export async function putManifest(
  ctx: RepositoryContext,
  m: RawJson<unknown>,
  reference: string,
): Promise<string | undefined> {
  const what = `pushing manifest ${m.digest} to ${ctx.registry}/${ctx.repository}${reference === m.digest ? '' : `:${reference}`}`;
  const res = await ctx.client.request({
    method: 'PUT',
    url: `/v2/${ctx.repository}/manifests/${reference}`,
    headers: { 'content-type': m.mediaType },
    body: m.bytes,
    scopes: ctx.scopes,
    what,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 202)
    throw await ctx.client.responseError(res, what);
  await drain(res);
  const claimed = res.headers.get('docker-content-digest');
  if (
    claimed &&
    digestAlgorithm(m.digest) === 'sha256' &&
    claimed.startsWith('sha256:') &&
    claimed !== m.digest
  ) {
    throw new DistillError(
      'DIGEST_MISMATCH',
      `${what}: the registry stored it as ${claimed}; it must have changed the manifest's bytes`,
    );
  }
  return res.headers.get('oci-subject') ?? undefined;
}
