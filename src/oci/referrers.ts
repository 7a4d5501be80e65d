import { DistillError } from '../errors.js';
import { type Digest, digestAlgorithm, digestOf } from './digest.js';
import { type RawJson, rawJsonFromValue } from './image.js';
import { MediaType } from './mediatypes.js';
import type { Annotations, Descriptor, IndexJson, ManifestJson } from './types.js';

/**
 * OCI 1.1 referrers, without I/O: the artifact manifests distill attaches to an image (image
 * spec, manifest.md "artifactType" and "Guidelines for Artifact Usage"), the descriptors a
 * referrers list holds, and the fallback tag of the distribution spec ("Referrers Tag Schema").
 * Media write and list them (media/referrers.ts).
 */

/** The media types of the documents distill attaches, as their own specs name them. */
export const ArtifactType = {
  /** An in-toto Statement (in-toto attestation spec, "Statement layer"). */
  InToto: 'application/vnd.in-toto+json',
  Spdx: 'application/spdx+json',
  CycloneDx: 'application/vnd.cyclonedx+json',
} as const;

/** The empty JSON blob `{}` an artifact manifest without a config names (image spec 1.1). */
export const EMPTY_JSON: Uint8Array = Buffer.from('{}');

export const EMPTY_DESCRIPTOR: Descriptor = {
  mediaType: MediaType.OciEmpty,
  digest: digestOf(EMPTY_JSON),
  size: EMPTY_JSON.length,
};

/** One blob an artifact carries, its bytes in memory: the document attached. */
export interface ArtifactBlob {
  descriptor: Descriptor;
  bytes: Uint8Array;
}

export interface ArtifactRequest {
  /** The manifest (or index) the artifact is about. */
  subject: Descriptor;
  artifactType: string;
  /** The documents, each one layer, in order; their media types are their own. */
  blobs: readonly ArtifactBlob[];
  /** On the manifest; the referrers list repeats them. No timestamp unless the caller adds one. */
  annotations?: Annotations;
}

/** A blob descriptor for document bytes of a media type. */
export function blobDescriptor(bytes: Uint8Array, mediaType: string, annotations?: Annotations): Descriptor {
  return {
    mediaType,
    digest: digestOf(bytes),
    size: bytes.length,
    ...(annotations !== undefined && { annotations }),
  };
}

/**
 * The artifact manifest for documents about a subject: an OCI image manifest with
 * `artifactType`, the empty config and one layer per document. Same inputs, same bytes.
 */
export function artifactManifest(req: ArtifactRequest): RawJson<ManifestJson> {
  const subject: Descriptor = {
    mediaType: req.subject.mediaType,
    digest: req.subject.digest,
    size: req.subject.size,
  };
  const value: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: req.artifactType,
    config: EMPTY_DESCRIPTOR,
    layers: req.blobs.length > 0 ? req.blobs.map((b) => b.descriptor) : [EMPTY_DESCRIPTOR],
    subject,
    ...(req.annotations !== undefined &&
      Object.keys(req.annotations).length > 0 && { annotations: req.annotations }),
  };
  return rawJsonFromValue(value, MediaType.OciManifest);
}

/**
 * The descriptor a referrers list holds for a manifest (distribution spec, "Listing
 * Referrers"): its artifactType (the config's media type when the manifest has none) and its
 * annotations.
 */
export function referrerDescriptor(m: RawJson<ManifestJson | IndexJson>): Descriptor {
  const v = m.value;
  const artifactType = v.artifactType ?? ('config' in v ? v.config.mediaType : undefined);
  return {
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.bytes.length,
    ...(artifactType !== undefined && { artifactType }),
    ...(v.annotations !== undefined && { annotations: v.annotations }),
  };
}

/**
 * The fallback tag that holds the referrers of a digest on a registry without the referrers
 * API: `<alg>-<encoded>`, the algorithm cut to 32 characters and the encoded part to 64.
 */
export function referrersTag(digest: Digest): string {
  const alg = digestAlgorithm(digest);
  const encoded = digest.slice(alg.length + 1);
  return `${alg.slice(0, 32)}-${encoded.slice(0, 64)}`.replace(/[^a-zA-Z0-9._-]/g, '-');
}

/**
 * A referrers list after adding entries: existing ones kept in their order (whoever wrote them),
 * a digest already listed not listed twice.
 */
export function mergeReferrers(existing: readonly Descriptor[], add: readonly Descriptor[]): Descriptor[] {
  const out = [...existing];
  const seen = new Set(existing.map((d) => d.digest));
  for (const d of add) {
    if (seen.has(d.digest)) continue;
    seen.add(d.digest);
    out.push(d);
  }
  return out;
}

/** The image index a referrers list is (the tag fallback's content, the API's answer). */
export function referrersIndex(entries: readonly Descriptor[]): RawJson<IndexJson> {
  return rawJsonFromValue<IndexJson>(
    { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [...entries] },
    MediaType.OciIndex,
  );
}

/** The subject a referrer's manifest names, or a clear error when it names none. */
export function subjectOf(m: RawJson<ManifestJson | IndexJson>, where: string): Descriptor {
  if (m.value.subject === undefined) {
    throw new DistillError(
      'MANIFEST_INVALID',
      `${where}: manifest ${m.digest} has no subject; it is not a referrer`,
    );
  }
  return m.value.subject;
}
