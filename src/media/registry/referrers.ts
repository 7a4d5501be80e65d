import { DistillError, isDistillError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { parseManifest } from '../../oci/image.js';
import { isImageManifest, isIndex, MediaType } from '../../oci/mediatypes.js';
import { mergeReferrers, referrersIndex, referrersTag } from '../../oci/referrers.js';
import type { Descriptor } from '../../oci/types.js';
import { parseJsonDocument, validateIndex } from '../../oci/validate.js';
import { descriptorOfReferrer, type Referrer, referrerFromManifest } from '../referrer.js';
import { drain } from './client.js';
import type { RepositoryContext } from './context.js';
import { readLimited } from './http.js';
import { fetchManifest, openBlob, resolveManifest } from './pull.js';
import { type PushSettings, pushBlob, putManifest } from './push.js';

/**
 * OCI 1.1 referrers on a registry (distribution spec, "Listing Referrers" and "Referrers Tag
 * Schema"): the referrers API when the registry has it, else the `sha256-<hex>` tag holding an
 * index, updated by read-modify-write that keeps every entry other writers put there.
 */

/** How often the fallback tag is re-read and written again when another writer changed it meanwhile. */
const TAG_ATTEMPTS = 5;

function where(ctx: RepositoryContext): string {
  return `${ctx.registry}/${ctx.repository}`;
}

/** How many pages of a referrers answer distill follows (`Link: <...>; rel="next"`). */
const MAX_PAGES = 100;

/** The next page a response's Link header names (distribution spec, "Listing Referrers"). */
function nextPage(res: Response): string | undefined {
  const link = res.headers.get('link');
  return link === null ? undefined : /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1];
}

/**
 * The referrers of a digest: the API's answer, every page of it, when the registry has the API
 * (a registry without it answers 404, or 400/405/501 for a path it does not know), else the
 * fallback tag's index, else none.
 */
export async function listReferrers(ctx: RepositoryContext, subject: Digest): Promise<Descriptor[]> {
  const what = `listing the referrers of ${where(ctx)}@${subject}`;
  const out: Descriptor[] = [];
  let url: string | URL | undefined = `/v2/${ctx.repository}/referrers/${subject}`;
  for (let page = 0; url !== undefined; page++) {
    if (page >= MAX_PAGES) {
      throw new DistillError(
        'REGISTRY',
        `${what}: more than ${MAX_PAGES} pages; the registry keeps sending a next page`,
      );
    }
    const res = await ctx.client.request({
      method: 'GET',
      url,
      headers: { accept: MediaType.OciIndex },
      scopes: ctx.scopes,
      what,
    });
    if (
      page === 0 &&
      (res.status === 404 || res.status === 400 || res.status === 405 || res.status === 501)
    ) {
      await drain(res);
      return (await readTag(ctx, subject))?.entries ?? [];
    }
    if (res.status !== 200) throw await ctx.client.responseError(res, what);
    const bytes = await readLimited(res, 'index', what);
    out.push(...validateIndex(parseJsonDocument(bytes, what, 'index'), what).manifests);
    const next = nextPage(res);
    url = next === undefined ? undefined : ctx.client.resolve(next, ctx.client.resolve(url));
  }
  return out;
}

interface TagIndex {
  digest: Digest;
  entries: Descriptor[];
}

/** The fallback tag's index; undefined when the tag does not exist. */
async function readTag(ctx: RepositoryContext, subject: Digest): Promise<TagIndex | undefined> {
  const tag = referrersTag(subject);
  let raw: Awaited<ReturnType<typeof fetchManifest>>;
  try {
    raw = await fetchManifest(ctx, tag);
  } catch (err) {
    if (isDistillError(err, 'MANIFEST_UNKNOWN')) return undefined;
    throw err;
  }
  const what = `the referrers tag ${where(ctx)}:${tag}`;
  if (!isIndex(raw.mediaType)) {
    throw new DistillError(
      'REFERRERS_TAG_INVALID',
      `${what} holds a ${raw.mediaType}, not the image index of the referrers tag schema; another tool uses that tag for something else, so distill leaves it alone`,
    );
  }
  return {
    digest: raw.digest,
    entries: validateIndex(parseJsonDocument(raw.bytes, what, 'index'), what).manifests,
  };
}

/** The digest the fallback tag names now; undefined when there is no such tag. */
async function tagDigest(ctx: RepositoryContext, tag: string): Promise<Digest | undefined> {
  try {
    return (await resolveManifest(ctx, tag)).digest;
  } catch (err) {
    if (isDistillError(err, 'MANIFEST_UNKNOWN')) return undefined;
    throw err;
  }
}

/**
 * Adds entries to the fallback tag of a subject: read, merge (entries already there stay, in
 * their order), check the tag did not move since it was read, write, then read again to see the
 * entries there. A tag another writer changed in between is read again, up to TAG_ATTEMPTS times.
 */
export async function addToReferrersTag(
  ctx: RepositoryContext,
  subject: Digest,
  add: readonly Descriptor[],
): Promise<void> {
  const tag = referrersTag(subject);
  for (let attempt = 0; ; attempt++) {
    const current = await readTag(ctx, subject);
    const entries = current?.entries ?? [];
    if (add.every((d) => entries.some((e) => e.digest === d.digest))) return;
    if (attempt >= TAG_ATTEMPTS) {
      throw new DistillError(
        'REFERRERS_CONFLICT',
        `the referrers tag ${where(ctx)}:${tag} kept changing while distill added to it (${TAG_ATTEMPTS} attempts); another writer is updating it, try again`,
      );
    }
    if ((await tagDigest(ctx, tag)) !== current?.digest) continue;
    await putManifest(ctx, referrersIndex(mergeReferrers(entries, add)), tag);
  }
}

/**
 * Pushes referrers: their blobs, their manifests by digest; a registry that answers without
 * `OCI-Subject` does not index subjects, so the fallback tag of each subject gets the entries.
 */
export async function pushReferrers(
  ctx: RepositoryContext,
  referrers: readonly Referrer[],
  settings: PushSettings,
): Promise<Descriptor[]> {
  const untracked = new Map<Digest, Descriptor[]>();
  const out: Descriptor[] = [];
  for (const r of referrers) {
    for (const b of r.blobs) await pushBlob(ctx, b, settings);
    const indexed = await putManifest(ctx, r.manifest, r.manifest.digest);
    const d = descriptorOfReferrer(r);
    out.push(d);
    const subject = r.manifest.value.subject?.digest;
    if (subject === undefined || indexed === subject) continue;
    untracked.set(subject, [...(untracked.get(subject) ?? []), d]);
  }
  for (const [subject, entries] of untracked) await addToReferrersTag(ctx, subject, entries);
  return out;
}

/** Opens a referrer a list names: its manifest now (verified), its blobs when read. */
export async function openReferrer(ctx: RepositoryContext, d: Descriptor): Promise<Referrer> {
  const raw = await fetchManifest(ctx, d.digest, d);
  const what = `referrer ${d.digest} in ${where(ctx)}`;
  if (!isImageManifest(raw.mediaType)) {
    throw new DistillError(
      'MEDIA_TYPE_UNSUPPORTED',
      `${what} is a ${raw.mediaType}; distill reads referrers that are image manifests`,
    );
  }
  const manifest = parseManifest(raw.bytes, raw.mediaType, what);
  return referrerFromManifest(manifest, (bd, kind) => openBlob(ctx, bd, kind));
}
