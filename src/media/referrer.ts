import { Readable } from 'node:stream';
import type { RawJson } from '../oci/image.js';
import {
  type ArtifactRequest,
  artifactManifest,
  EMPTY_DESCRIPTOR,
  EMPTY_JSON,
  referrerDescriptor,
} from '../oci/referrers.js';
import type { Descriptor, ManifestJson } from '../oci/types.js';
import { manifestOut, type OutgoingBlob } from './outgoing.js';

/**
 * A referrer as every medium moves it: its manifest (raw bytes kept, so its digest never
 * changes on the way) and its blobs, opened from wherever they are and checked against their
 * descriptors by the writer (media/outgoing.ts). An artifact manifest is not an image (its config
 * is `{}` or a type of its own), so it is not loaded through the image model.
 */
export interface Referrer {
  readonly manifest: RawJson<ManifestJson>;
  /** The config and layers the manifest names, each once. */
  readonly blobs: readonly OutgoingBlob[];
}

/** The descriptor a referrers list, or a layout's index.json, holds for it. */
export function descriptorOfReferrer(r: Referrer): Descriptor {
  return referrerDescriptor(r.manifest);
}

/** Blobs and manifest in writing order: what a sink or a registry push takes. */
export function referrerOutgoing(r: Referrer): OutgoingBlob[] {
  return [...r.blobs, manifestOut(r.manifest)];
}

function memoryBlob(descriptor: Descriptor, bytes: Uint8Array, what: string): OutgoingBlob {
  return { descriptor, what, open: async () => Readable.from([Buffer.from(bytes)]), bytes };
}

/** A referrer made in memory: the documents distill attaches (an SBOM, a provenance statement). */
export function attachment(req: ArtifactRequest): Referrer {
  const manifest = artifactManifest(req);
  const blobs: OutgoingBlob[] = [memoryBlob(EMPTY_DESCRIPTOR, EMPTY_JSON, 'config')];
  const seen = new Set([EMPTY_DESCRIPTOR.digest]);
  for (const b of req.blobs) {
    if (seen.has(b.descriptor.digest)) continue;
    seen.add(b.descriptor.digest);
    blobs.push(memoryBlob(b.descriptor, b.bytes, 'attestation'));
  }
  return { manifest, blobs };
}

/**
 * The blobs a referrer's manifest names, each once, opened through `open` (a medium's verified
 * reader): config first, then the layers.
 */
export function referrerFromManifest(
  manifest: RawJson<ManifestJson>,
  open: (d: Descriptor, what: string) => Promise<Readable>,
): Referrer {
  const seen = new Set<string>();
  const blobs: OutgoingBlob[] = [];
  const add = (d: Descriptor, what: string) => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    blobs.push({ descriptor: d, what, open: () => open(d, what) });
  };
  add(manifest.value.config, 'config');
  for (const l of manifest.value.layers) add(l, 'artifact blob');
  return { manifest, blobs };
}
