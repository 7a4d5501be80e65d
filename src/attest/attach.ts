import { attachment, type Referrer } from '../media/referrer.js';
import { blobDescriptor } from '../oci/referrers.js';
import type { Descriptor } from '../oci/types.js';

/** The annotation naming an attestation's predicate type, on the manifest and its layer (as buildx and cosign write it). */
export const PREDICATE_TYPE_ANNOTATION = 'in-toto.io/predicate-type';

/** A document attached to an image: its media type (the artifact type too), its bytes, annotations. */
export interface AttachedDocument {
  mediaType: string;
  bytes: Uint8Array;
  annotations?: Record<string, string>;
}

/**
 * One artifact manifest per subject for a document (the root, and each image of an index, as
 * the issue asks: a platform's image carries its own), sharing the one document blob.
 */
export function documentReferrers(subjects: readonly Descriptor[], doc: AttachedDocument): Referrer[] {
  const descriptor = blobDescriptor(doc.bytes, doc.mediaType, doc.annotations);
  return subjects.map((subject) =>
    attachment({
      subject,
      artifactType: doc.mediaType,
      blobs: [{ descriptor, bytes: doc.bytes }],
      ...(doc.annotations !== undefined && { annotations: doc.annotations }),
    }),
  );
}
