import type { Readable } from 'node:stream';
import { DistillError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import type { Descriptor } from '../../oci/types.js';
import { drain } from './client.js';
import type { RepositoryContext } from './context.js';
import { readLimited } from './http.js';
import { fetchManifest, openBlob, type RawManifest } from './pull.js';

/**
 * One repository as a store of small documents and blobs, for a remote build cache
 * (src/cache): a manifest by tag (absent is not an error), blobs verified as they are read,
 * the tags, and deleting a manifest. Pushing goes through push.ts like any image.
 */
export interface RepositoryReader {
  /** The manifest a tag names, verified against the registry's digest; undefined when there is none. */
  manifest(tag: string): Promise<RawManifest | undefined>;
  /** A blob as a stream verified against its descriptor. */
  openBlob(d: Descriptor): Promise<Readable>;
  /** Every tag of the repository (paginated); none when the repository does not exist. */
  tags(): Promise<string[]>;
  /** Deletes a manifest by digest (the registry must allow deletes). */
  deleteManifest(digest: Digest): Promise<void>;
}

export function repositoryReader(ctx: RepositoryContext): RepositoryReader {
  return {
    manifest: async (tag) => {
      try {
        return await fetchManifest(ctx, tag);
      } catch (err) {
        if (err instanceof DistillError && err.code === 'MANIFEST_UNKNOWN') return undefined;
        throw err;
      }
    },
    openBlob: (d) => openBlob(ctx, d, 'blob'),
    tags: () => listTags(ctx),
    deleteManifest: (digest) => deleteManifest(ctx, digest),
  };
}

async function listTags(ctx: RepositoryContext): Promise<string[]> {
  const what = `listing the tags of ${ctx.registry}/${ctx.repository}`;
  const out: string[] = [];
  let url: string | URL = `/v2/${ctx.repository}/tags/list?n=1000`;
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await ctx.client.request({ method: 'GET', url, scopes: ctx.scopes, what });
    if (res.status === 404) {
      await drain(res);
      return out;
    }
    if (res.status !== 200) throw await ctx.client.responseError(res, what);
    const link = res.headers.get('link');
    const body = JSON.parse((await readLimited(res, 'index', what)).toString('utf8')) as { tags?: unknown };
    if (Array.isArray(body.tags)) for (const t of body.tags) if (typeof t === 'string') out.push(t);
    const next = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
    if (next === undefined) return out;
    url = ctx.client.resolve(next);
  }
  return out;
}

async function deleteManifest(ctx: RepositoryContext, digest: Digest): Promise<void> {
  const what = `deleting manifest ${digest} from ${ctx.registry}/${ctx.repository}`;
  const res = await ctx.client.request({
    method: 'DELETE',
    url: `/v2/${ctx.repository}/manifests/${digest}`,
    scopes: ctx.scopes,
    what,
  });
  await drain(res);
  if (res.status === 202 || res.status === 200 || res.status === 404) return;
  if (res.status === 405) {
    throw new DistillError(
      'REGISTRY',
      `registry ${ctx.registry} does not allow deleting manifests (HTTP 405) while ${what}; enable deletes in its configuration (docker-registry: storage.delete.enabled: true)`,
    );
  }
  throw await ctx.client.responseError(res, what);
}
