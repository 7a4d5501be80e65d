import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pack } from 'tar-stream';
import { DistillError } from '../../errors.js';
import { type Artifact, descriptorOf } from '../../oci/image.js';
import type { Descriptor, IndexJson } from '../../oci/types.js';
import { sweepOwnedTemps } from '../../store/owner.js';
import type { TransferProgress } from '../blobs.js';
import { descriptorOfReferrer, type Referrer, referrerOutgoing } from '../referrer.js';
import { type BlobSink, DirectoryBlobSink, MadeDirs, writeArtifactBlobs } from '../sink.js';
import { packEntry, TarBlobSink, writeTarFile } from '../tarsink.js';
import { writeFileAtomic } from './atomic.js';
import { DirectorySource } from './directory.js';
import { dropOrphanReferrers, removeBlobs } from './prune.js';
import { REF_NAME, readLayoutIndex } from './read.js';

export { writeFileAtomic } from './atomic.js';
export { pruneLayout } from './prune.js';

export const OCI_LAYOUT_FILE = `${JSON.stringify({ imageLayoutVersion: '1.0.0' })}`;

/** The descriptor index.json lists for an artifact, with its tag. */
function rootDescriptor(artifact: Artifact, tag: string | undefined): Descriptor {
  return descriptorOf(artifact.manifest, tag !== undefined ? { annotations: { [REF_NAME]: tag } } : {});
}

/** index.json after adding `root`: an entry with the same tag (or, untagged, the same digest) is replaced. */
export function mergeIndex(
  existing: IndexJson | undefined,
  root: Descriptor,
  tag: string | undefined,
): IndexJson {
  const kept = (existing?.manifests ?? []).filter((m) => {
    const t = m.annotations?.[REF_NAME];
    return tag !== undefined ? t !== tag : !(t === undefined && m.digest === root.digest);
  });
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [...kept, root],
    ...(existing?.annotations !== undefined && { annotations: existing.annotations }),
  };
}

/**
 * index.json with referrers added as untagged entries (artifactType and annotations on each, so
 * a reader finds them without opening every manifest); one already listed is not listed twice.
 */
export function withReferrers(index: IndexJson, referrers: readonly Referrer[]): IndexJson {
  const listed = new Set(index.manifests.map((m) => m.digest));
  const added = referrers.map(descriptorOfReferrer).filter((d) => {
    if (listed.has(d.digest)) return false;
    listed.add(d.digest);
    return true;
  });
  return { ...index, manifests: [...index.manifests, ...added] };
}

/** Every blob of the referrers, each once, to a sink. */
export async function writeReferrerBlobs(referrers: readonly Referrer[], sink: BlobSink): Promise<void> {
  for (const r of referrers) {
    for (const b of referrerOutgoing(r)) if (!(await sink.has(b.descriptor))) await sink.write(b);
  }
}

/**
 * Writes an image or index into an OCI layout directory, adding or replacing the tag in its
 * index.json, with the referrers given (OCI 1.1 artifacts whose subject it is) listed there too.
 * Blobs already there are kept; index.json is replaced atomically last. A failed
 * write leaves things as they were: in an existing layout the blobs it added are removed and
 * index.json is untouched; a directory it created (the layout itself, `blobs/sha256`) is
 * removed again, so a failed copy to a new destination leaves nothing behind.
 */
export async function writeLayoutDir(
  dir: string,
  tag: string | undefined,
  artifact: Artifact,
  progress: TransferProgress = {},
  referrers: readonly Referrer[] = [],
): Promise<Descriptor> {
  const dirs = new MadeDirs();
  const files = new DirectorySource(dir, `OCI layout ${dir}`);
  const sink = new DirectoryBlobSink(dir, progress, dirs);
  let markerMade = false;
  try {
    await dirs.mkdir(dir);
    await sweepLayoutTemps(dir);
    const existing = await existingIndex(files, dir);
    await writeArtifactBlobs(artifact, sink, progress);
    await writeReferrerBlobs(referrers, sink);
    const root = rootDescriptor(artifact, tag);
    const merged = withReferrers(mergeIndex(existing, root, tag), referrers);
    // A tag that named another image: that image's referrers go with it (decision 0037).
    const replaced = existing?.manifests.some((m) => !merged.manifests.includes(m)) ?? false;
    const { index, blobs } = replaced
      ? await dropOrphanReferrers(files, merged, artifact, referrers)
      : { index: merged, blobs: [] };
    if (existing === undefined) {
      await writeFileAtomic(join(dir, 'oci-layout'), OCI_LAYOUT_FILE);
      markerMade = true;
    }
    await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(index));
    await removeBlobs(dir, blobs);
    return root;
  } catch (err) {
    if (markerMade) await rm(join(dir, 'oci-layout'), { force: true });
    await sink.rollback();
    throw err;
  }
}

/** The index.json of the layout at `dir`; undefined for an empty or new directory. */
async function existingIndex(files: DirectorySource, dir: string): Promise<IndexJson | undefined> {
  if (await files.exists('oci-layout')) return readLayoutIndex(files);
  const entries = (await readdir(dir)).filter((e) => !e.startsWith('.'));
  if (entries.length > 0 && !(entries.length === 1 && entries[0] === 'blobs')) {
    throw new DistillError(
      'LAYOUT_INVALID',
      `${dir} is not empty and is not an OCI layout; give an empty or new directory for oci:`,
    );
  }
  return undefined;
}

/** Removes the temp files that killed writers left in a layout (their owner is gone). */
async function sweepLayoutTemps(dir: string): Promise<void> {
  for (const name of ['index.json', 'oci-layout']) {
    await sweepOwnedTemps(dir, { prefix: `${name}.`, suffix: '.tmp' });
  }
  for (const alg of await readdir(join(dir, 'blobs')).catch(() => [] as string[])) {
    await sweepOwnedTemps(join(dir, 'blobs', alg), { prefix: '.tmp-' });
  }
}

/** The OCI-layout part of an archive: oci-layout, index.json, then every blob. */
export async function packLayout(
  pack: Pack,
  artifact: Artifact,
  index: IndexJson,
  progress: TransferProgress,
  referrers: readonly Referrer[] = [],
): Promise<void> {
  await packEntry(
    pack,
    { name: 'oci-layout', size: Buffer.byteLength(OCI_LAYOUT_FILE) },
    Buffer.from(OCI_LAYOUT_FILE),
  );
  const indexBytes = Buffer.from(JSON.stringify(index));
  await packEntry(pack, { name: 'index.json', size: indexBytes.length }, indexBytes);
  const sink = new TarBlobSink(pack, progress);
  await writeArtifactBlobs(artifact, sink, progress);
  await writeReferrerBlobs(referrers, sink);
}

/** Writes an `oci-archive:` file: an OCI layout in an uncompressed tar, replacing the file atomically. */
export async function writeOciArchive(
  file: string,
  tag: string | undefined,
  artifact: Artifact,
  progress: TransferProgress = {},
  referrers: readonly Referrer[] = [],
): Promise<Descriptor> {
  const root = rootDescriptor(artifact, tag);
  const index = withReferrers(mergeIndex(undefined, root, tag), referrers);
  await writeTarFile(file, (pack) => packLayout(pack, artifact, index, progress, referrers));
  return root;
}
