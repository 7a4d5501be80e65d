import { attachment, type Referrer } from '../../src/media/referrer.js';
import type { Image } from '../../src/oci/image.js';
import { blobDescriptor } from '../../src/oci/referrers.js';
import type { Descriptor } from '../../src/oci/types.js';

/** The descriptor a referrer's subject field holds for an image. */
export function subjectOf(image: Image): Descriptor {
  return {
    mediaType: image.manifest.mediaType,
    digest: image.manifest.digest,
    size: image.manifest.bytes.length,
  };
}

/** An SBOM-like attachment about a subject: a small JSON document as its one layer, annotated. */
export function docAttachment(subject: Descriptor, artifactType: string, text: string): Referrer {
  const bytes = Buffer.from(JSON.stringify({ about: subject.digest, text }));
  return attachment({
    subject,
    artifactType,
    blobs: [{ descriptor: blobDescriptor(bytes, artifactType), bytes }],
    annotations: { 'org.example.note': text },
  });
}
