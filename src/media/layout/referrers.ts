import type { Digest } from '../../oci/digest.js';
import { parseManifest, type RawJson } from '../../oci/image.js';
import { isImageManifest } from '../../oci/mediatypes.js';
import { referrerDescriptor } from '../../oci/referrers.js';
import type { Descriptor, IndexJson, ManifestJson } from '../../oci/types.js';
import { blobPath, openVerified } from '../blobs.js';
import type { FileSource } from '../files.js';
import { type Referrer, referrerFromManifest } from '../referrer.js';
import { REF_NAME, readBlob, readLayoutIndex } from './read.js';

/**
 * OCI 1.1 referrers in an OCI layout (or oci-archive): artifact manifests listed in index.json
 * whose `subject` names another manifest, as `oras attach --oci-layout` writes them. Entries
 * with an `artifactType`, and untagged image manifests, are opened to read their subject;
 * tagged images without one are not (a layout of many tagged images costs nothing more).
 */
export interface LayoutReferrer {
  entry: Descriptor;
  manifest: RawJson<ManifestJson>;
}

function mayBeReferrer(d: Descriptor): boolean {
  return (
    isImageManifest(d.mediaType) && (d.artifactType !== undefined || d.annotations?.[REF_NAME] === undefined)
  );
}

async function readManifest(files: FileSource, d: Descriptor): Promise<RawJson<ManifestJson>> {
  const what = `manifest ${d.digest} in ${files.description}`;
  return parseManifest(await readBlob(files, d, 'manifest', 'manifest'), d.mediaType, what);
}

/**
 * The entries of index.json that are referrers, with their manifests. `known`: manifests in
 * memory by digest (those a write is adding), not read again.
 */
export async function layoutReferrerEntries(
  files: FileSource,
  index: IndexJson,
  known: ReadonlyMap<string, RawJson<ManifestJson>> = new Map(),
): Promise<LayoutReferrer[]> {
  const out: LayoutReferrer[] = [];
  for (const entry of index.manifests) {
    if (!mayBeReferrer(entry)) continue;
    const manifest = known.get(entry.digest) ?? (await readManifest(files, entry));
    if (manifest.value.subject !== undefined) out.push({ entry, manifest });
  }
  return out;
}

/** The referrers of a digest in a layout, as a referrers list describes them. */
export async function layoutReferrers(files: FileSource, subject: Digest): Promise<Descriptor[]> {
  const entries = await layoutReferrerEntries(files, await readLayoutIndex(files));
  return entries
    .filter((r) => r.manifest.value.subject?.digest === subject)
    .map((r) => referrerDescriptor(r.manifest));
}

/** Opens a referrer of a layout: its manifest now (verified), its blobs when read (verified). */
export async function openLayoutReferrer(files: FileSource, d: Descriptor): Promise<Referrer> {
  const manifest = await readManifest(files, d);
  return referrerFromManifest(manifest, (bd, what) => openVerified(files, blobPath(bd), bd, what));
}
