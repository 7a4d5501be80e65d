import { resolve } from 'node:path';
import { DistillError } from '../errors.js';
import type { Digest } from '../oci/digest.js';
import type { Artifact } from '../oci/image.js';
import { isIndex } from '../oci/mediatypes.js';
import type { Descriptor } from '../oci/types.js';
import type { ImageRef } from '../ref/transport.js';
import { TarFileSource } from './files.js';
import { type MediaOptions, registryOptions } from './index.js';
import { DirectorySource } from './layout/directory.js';
import { layoutReferrers, openLayoutReferrer } from './layout/referrers.js';
import type { Referrer } from './referrer.js';
import { listRegistryReferrers, openRegistryReferrer } from './registry/index.js';

/**
 * OCI 1.1 referrers in any medium that holds them: listing the referrers of a digest and opening
 * one. docker-archive: and docker-daemon: hold none (their list is empty).
 */

async function layoutFiles(ref: ImageRef): Promise<DirectorySource | TarFileSource | undefined> {
  if (ref.transport === 'oci') return new DirectorySource(resolve(ref.path), `OCI layout ${ref.path}`);
  if (ref.transport === 'oci-archive')
    return TarFileSource.open(resolve(ref.path), `OCI archive ${ref.path}`);
  return undefined;
}

/** The referrers of `subject` in the medium `ref` names (its tag or digest does not matter). */
export async function listReferrers(
  ref: ImageRef,
  subject: Digest,
  opts: MediaOptions = {},
): Promise<Descriptor[]> {
  if (ref.transport === 'docker') return listRegistryReferrers(ref.ref, subject, registryOptions(opts));
  const files = await layoutFiles(ref);
  return files === undefined ? [] : layoutReferrers(files, subject);
}

/** Opens one referrer a list named: its manifest now, verified; its blobs when read. */
export async function openReferrer(ref: ImageRef, d: Descriptor, opts: MediaOptions = {}): Promise<Referrer> {
  if (ref.transport === 'docker') return openRegistryReferrer(ref.ref, d, registryOptions(opts));
  const files = await layoutFiles(ref);
  if (files === undefined) {
    throw new DistillError('REFERRERS_UNSUPPORTED', `${ref.transport}: holds no referrers to open`);
  }
  return openLayoutReferrer(files, d);
}

/** The manifests an artifact is made of that referrers may name: the root, then an index's children. */
export async function subjectsOf(artifact: Artifact): Promise<Descriptor[]> {
  const root: Descriptor = {
    mediaType: artifact.manifest.mediaType,
    digest: artifact.manifest.digest,
    size: artifact.manifest.bytes.length,
  };
  if (artifact.kind === 'image') return [root];
  const out = [root];
  const seen = new Set([root.digest]);
  const visit = async (a: Artifact): Promise<void> => {
    if (a.kind !== 'index') return;
    for (const d of a.manifest.value.manifests) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      out.push({
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        ...(d.platform && { platform: d.platform }),
      });
      if (isIndex(d.mediaType)) await visit(await a.child(d));
    }
  };
  await visit(artifact);
  return out;
}

/** A referrer and the manifest it is about, as a listing shows it. */
export interface AttachedReferrer {
  subject: Descriptor;
  referrer: Descriptor;
}

/**
 * Every referrer of the subjects, and the referrers of those (a signature on an SBOM), each once,
 * in the order found (breadth first): what `distill attestations` lists.
 */
export async function walkReferrers(
  ref: ImageRef,
  subjects: readonly Descriptor[],
  opts: MediaOptions = {},
): Promise<AttachedReferrer[]> {
  const out: AttachedReferrer[] = [];
  const seen = new Set<string>(subjects.map((s) => s.digest));
  const todo = [...subjects];
  for (let subject = todo.shift(); subject !== undefined; subject = todo.shift()) {
    for (const d of await listReferrers(ref, subject.digest, opts)) {
      if (seen.has(d.digest)) continue;
      seen.add(d.digest);
      out.push({ subject, referrer: d });
      todo.push(d);
    }
  }
  return out;
}

/** Every referrer walkReferrers finds, opened: what `distill copy` carries along. */
export async function collectReferrers(
  ref: ImageRef,
  subjects: readonly Descriptor[],
  opts: MediaOptions = {},
): Promise<Referrer[]> {
  const out: Referrer[] = [];
  for (const { referrer } of await walkReferrers(ref, subjects, opts))
    out.push(await openReferrer(ref, referrer, opts));
  return out;
}

/** The most bytes an attached document is read into memory for (an SBOM of a large image is a few MB). */
export const DOCUMENT_MAX = 256 * 2 ** 20;

/**
 * The document attached to `subject` with one of `artifactTypes` (the first such referrer listed),
 * its bytes as they were attached, every byte verified against its digest; undefined when none is.
 */
export async function readAttachedDocument(
  ref: ImageRef,
  subject: Digest,
  artifactTypes: readonly string[],
  opts: MediaOptions = {},
): Promise<{ referrer: Descriptor; bytes: Buffer } | undefined> {
  const d = (await listReferrers(ref, subject, opts)).find((x) =>
    artifactTypes.includes(x.artifactType ?? ''),
  );
  if (d === undefined) return undefined;
  const r = await openReferrer(ref, d, opts);
  const layer = r.blobs.find((b) => artifactTypes.includes(b.descriptor.mediaType)) ?? r.blobs[1];
  if (layer === undefined || layer.descriptor.size > DOCUMENT_MAX) {
    throw new DistillError(
      'MANIFEST_INVALID',
      `referrer ${d.digest} of ${subject} holds no document of ${artifactTypes.join(' or ')} distill can read (at most ${DOCUMENT_MAX} bytes)`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const c of await layer.open()) chunks.push(c as Buffer);
  return { referrer: d, bytes: Buffer.concat(chunks) };
}
