import { readdir, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Pack } from 'tar-stream';
import { DistillError } from '../../errors.js';
import { type Artifact, descriptorOf } from '../../oci/image.js';
import type { Descriptor, IndexJson } from '../../oci/types.js';
import { FILE_MODE } from '../../store/modes.js';
import { ownedTempName, sweepOwnedTemps } from '../../store/owner.js';
import type { TransferProgress } from '../blobs.js';
import { descriptorOfReferrer, type Referrer, referrerOutgoing } from '../referrer.js';
import { type BlobSink, DirectoryBlobSink, MadeDirs, writeArtifactBlobs } from '../sink.js';
import { packEntry, TarBlobSink, writeTarFile } from '../tarsink.js';
import { DirectorySource } from './directory.js';
import { loadArtifact, REF_NAME, readLayoutIndex } from './read.js';
import { type LayoutReferrer, layoutReferrerEntries } from './referrers.js';

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
    const index = withReferrers(mergeIndex(existing, root, tag), referrers);
    if (existing === undefined) {
      await writeFileAtomic(join(dir, 'oci-layout'), OCI_LAYOUT_FILE);
      markerMade = true;
    }
    await writeFileAtomic(join(dir, 'index.json'), JSON.stringify(index));
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
  const isReferrer = new Set(referrers.map((r) => r.entry.digest));
  const keep = new Set<string>();
  const visit = async (d: Descriptor): Promise<void> => {
    if (keep.has(d.digest)) return;
    keep.add(d.digest);
    const a = await loadArtifact(files, d);
    if (a.kind === 'image') {
      keep.add(a.manifest.digest);
      keep.add(a.config.digest);
      for (const l of a.layers) keep.add(l.descriptor.digest);
    } else {
      for (const c of a.manifest.value.manifests) await visit(c);
    }
  };
  for (const d of index.manifests) if (!isReferrer.has(d.digest)) await visit(d);
  const kept = keptReferrers(referrers, keep);
  if (kept.length < referrers.length) {
    const dropped = new Set(referrers.filter((r) => !kept.includes(r)).map((r) => r.entry.digest));
    const manifests = index.manifests.filter((m) => !dropped.has(m.digest));
    await writeFileAtomic(join(dir, 'index.json'), JSON.stringify({ ...index, manifests }));
  }
  return removeUnreached(dir, keep);
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

async function removeUnreached(dir: string, keep: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  for (const alg of await readdir(join(dir, 'blobs')).catch(() => [] as string[])) {
    for (const hex of await readdir(join(dir, 'blobs', alg)).catch(() => [] as string[])) {
      // Only finished blobs: a name that is not a digest may be another writer's temporary file.
      if (!/^[0-9a-f]{64}$/.test(hex) || keep.has(`${alg}:${hex}`)) continue;
      await unlink(join(dir, 'blobs', alg, hex)).catch(() => {});
      removed++;
    }
  }
  return removed;
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

/** Writes through a temp file beside `path` and a rename: `path` is whole, or as it was. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | Iterable<string>,
): Promise<void> {
  const tmp = join(dirname(path), ownedTempName(`${basename(path)}.`, '.tmp'));
  try {
    await writeFile(tmp, data, { mode: FILE_MODE });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
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
