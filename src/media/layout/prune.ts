import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isDistillError } from '../../errors.js';
import type { Artifact } from '../../oci/image.js';
import type { IndexJson } from '../../oci/types.js';
import type { Referrer } from '../referrer.js';
import { writeFileAtomic } from './atomic.js';
import { DirectorySource } from './directory.js';
import { loadArtifact, readLayoutIndex } from './read.js';
import { type LayoutReferrer, layoutReferrerEntries } from './referrers.js';

/**
 * What a layout no longer needs (decision 0037): referrers whose subject no image in index.json
 * reaches any more, and, for a layout distill owns, every blob nothing reaches.
 */

/** Adds the digests of an artifact's manifests, configs and layers (an index's children too) to `keep`. */
async function collect(a: Artifact, keep: Set<string>): Promise<void> {
  keep.add(a.manifest.digest);
  if (a.kind === 'image') {
    keep.add(a.config.digest);
    for (const l of a.layers) keep.add(l.descriptor.digest);
    return;
  }
  for (const c of a.manifest.value.manifests) if (!keep.has(c.digest)) await collect(await a.child(c), keep);
}

/**
 * The blobs the entries of index.json that are not referrers reach (tagged images and indexes,
 * untagged images without a subject). `loaded`: an artifact in memory, not read again.
 */
async function reachedBlobs(
  files: DirectorySource,
  index: IndexJson,
  referrers: readonly LayoutReferrer[],
  loaded?: Artifact,
): Promise<Set<string>> {
  const isReferrer = new Set(referrers.map((r) => r.entry.digest));
  const keep = new Set<string>();
  for (const d of index.manifests) {
    if (isReferrer.has(d.digest) || keep.has(d.digest)) continue;
    await collect(d.digest === loaded?.manifest.digest ? loaded : await loadArtifact(files, d), keep);
  }
  return keep;
}

/** Referrers whose subject is kept (a referrer of a kept referrer too); their blobs join `keep`. */
function keptReferrers(referrers: readonly LayoutReferrer[], keep: Set<string>): LayoutReferrer[] {
  const kept: LayoutReferrer[] = [];
  for (let changed = true; changed; ) {
    changed = false;
    for (const r of referrers) {
      if (kept.includes(r) || !keep.has(r.manifest.value.subject!.digest)) continue;
      kept.push(r);
      changed = true;
      const m = r.manifest.value;
      for (const d of [r.entry, m.config, ...m.layers]) keep.add(d.digest);
    }
  }
  return kept;
}

/** index.json without the referrers not kept. */
function withoutDropped(
  index: IndexJson,
  referrers: readonly LayoutReferrer[],
  kept: readonly LayoutReferrer[],
) {
  const dropped = new Set(referrers.filter((r) => !kept.includes(r)).map((r) => r.entry.digest));
  return { ...index, manifests: index.manifests.filter((m) => !dropped.has(m.digest)) };
}

/** An index.json without orphaned referrers, and the blobs only those used. */
export interface OrphansDropped {
  index: IndexJson;
  blobs: string[];
}

/**
 * Drops from `index` (the one about to be written, `artifact` its new image) the referrers whose
 * subject no image or index it lists reaches any more, as when a build replaces a tag: an
 * attestation of the image the tag named before (`added`: the referrers the write adds, their
 * manifests in memory, not read again). Referrers of anything still listed stay, whoever
 * wrote them. `blobs`: the dropped referrers' blobs that nothing kept uses (the caller removes
 * them once the new index.json is in place). When an entry of the layout cannot be read, what it
 * reaches is unknown: nothing is dropped.
 */
export async function dropOrphanReferrers(
  files: DirectorySource,
  index: IndexJson,
  artifact: Artifact,
  added: readonly Referrer[] = [],
): Promise<OrphansDropped> {
  try {
    const known = new Map(added.map((r) => [r.manifest.digest, r.manifest]));
    const referrers = await layoutReferrerEntries(files, index, known);
    if (referrers.length === 0) return { index, blobs: [] };
    const keep = await reachedBlobs(files, index, referrers, artifact);
    const kept = keptReferrers(referrers, keep);
    if (kept.length === referrers.length) return { index, blobs: [] };
    const blobs = new Set<string>();
    for (const r of referrers) {
      if (kept.includes(r)) continue;
      const m = r.manifest.value;
      for (const d of [r.entry, m.config, ...m.layers]) if (!keep.has(d.digest)) blobs.add(d.digest);
    }
    return { index: withoutDropped(index, referrers, kept), blobs: [...blobs] };
  } catch (err) {
    if (isDistillError(err)) return { index, blobs: [] };
    throw err;
  }
}

/** Removes blobs by digest (one already gone is no error); returns how many were removed. */
export async function removeBlobs(dir: string, digests: Iterable<string>): Promise<number> {
  let removed = 0;
  for (const digest of digests) {
    const [alg, hex] = digest.split(':');
    if (alg === undefined || hex === undefined) continue;
    await unlink(join(dir, 'blobs', alg, hex)).then(
      () => removed++,
      () => {},
    );
  }
  return removed;
}

/**
 * Removes the blobs of a layout that nothing in its index.json reaches (manifests, configs and
 * layers of every tagged image and of indexes' children), and the referrers whose subject is no
 * longer there (with their blobs; index.json is rewritten without them). For a layout distill
 * owns, such as a build's default output, which would otherwise keep every earlier build's app
 * layer, manifest and attestations. Nothing is removed when any reachable blob cannot be read
 * (the layout is then left as it was); returns the number of blobs removed.
 */
export async function pruneLayout(dir: string): Promise<number> {
  const files = new DirectorySource(dir, `OCI layout ${dir}`);
  const index = await readLayoutIndex(files);
  const referrers = await layoutReferrerEntries(files, index);
  const keep = await reachedBlobs(files, index, referrers);
  const kept = keptReferrers(referrers, keep);
  if (kept.length < referrers.length) {
    await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(withoutDropped(index, referrers, kept)));
  }
  return removeUnreached(dir, keep);
}

async function removeUnreached(dir: string, keep: ReadonlySet<string>): Promise<number> {
  const unreached: string[] = [];
  for (const alg of await readdir(join(dir, 'blobs')).catch(() => [] as string[])) {
    for (const hex of await readdir(join(dir, 'blobs', alg)).catch(() => [] as string[])) {
      // Only finished blobs: a name that is not a digest may be another writer's temporary file.
      if (/^[0-9a-f]{64}$/.test(hex) && !keep.has(`${alg}:${hex}`)) unreached.push(`${alg}:${hex}`);
    }
  }
  return removeBlobs(dir, unreached);
}
