import { DistillError } from '../errors.js';

/**
 * The one size policy for every JSON document distill reads, from a file, an archive, the blob
 * store or a registry: each kind of document has a cap, named here once with its reason. Readers
 * check the size they are told (a file's size, a tar member's size, a descriptor's size) against
 * the cap BEFORE reading anything into memory, and bound reads whose size they cannot know (an
 * HTTP body) by it; `parseJsonDocument` checks it again on the bytes as the last line.
 *
 * Bounded memory is the point: without a cap, an `index.json` that is a symlink to a 10 GiB file
 * or a registry answering an endless body is read whole before JSON.parse sees it.
 */
const MiB = 1024 * 1024;

export const JSON_LIMITS = {
  manifest: {
    bytes: 8 * MiB,
    why: 'registries accept image manifests of up to 4 MiB (the distribution spec, docker-registry, containerd and containers/image); twice that leaves room and stays bounded',
  },
  index: {
    bytes: 64 * MiB,
    why: "an image index (or a layout's index.json) has one ~150-byte entry per image or tag; a layout or archive may hold hundreds of thousands (64 MiB is about 400,000), and registries never accept one over 4 MiB anyway",
  },
  config: {
    bytes: 8 * MiB,
    why: 'an image config holds the history and labels of every layer; containers/image reads configs under 4 MiB; twice that',
  },
  archiveManifest: {
    bytes: 8 * MiB,
    why: "docker-archive's manifest.json has one entry per image saved; containers/image reads it under 1 MiB; a docker save of a whole engine still fits in 8",
  },
  layoutMarker: {
    bytes: 64 * 1024,
    why: 'the oci-layout file is {"imageLayoutVersion": "1.0.0"}',
  },
  registryResponse: {
    bytes: 1 * MiB,
    why: 'a registry error body or token answer is a few hundred bytes; containers/image reads both under 1 MiB',
  },
} as const satisfies Record<string, { bytes: number; why: string }>;

export type JsonKind = keyof typeof JSON_LIMITS;

/** The cap for a kind of document, in bytes. */
export function jsonLimit(kind: JsonKind): number {
  return JSON_LIMITS[kind].bytes;
}

/** The largest of the caps of these kinds: for a body read before its kind is known. */
export function largestLimit(...kinds: JsonKind[]): number {
  return Math.max(...kinds.map(jsonLimit));
}

/** Throws DOCUMENT_TOO_LARGE when a document of `size` bytes exceeds its kind's cap. */
export function checkJsonSize(kind: JsonKind, size: number, what: string): void {
  const limit = jsonLimit(kind);
  if (size > limit) throw tooLarge(kind, what, `${size} bytes`);
}

/** The error for a document over its cap; `size` says how much was seen ("9000000 bytes", "more than..."). */
export function tooLarge(kind: JsonKind, what: string, size: string): DistillError {
  const limit = jsonLimit(kind);
  return new DistillError(
    'DOCUMENT_TOO_LARGE',
    `${what} is ${size}, over distill's ${limit}-byte cap for ${describe(kind)} (${JSON_LIMITS[kind].why}); it is damaged or hostile`,
  );
}

function describe(kind: JsonKind): string {
  switch (kind) {
    case 'manifest':
      return 'an image manifest';
    case 'index':
      return 'an image index';
    case 'config':
      return 'an image config';
    case 'archiveManifest':
      return "a docker archive's manifest.json";
    case 'layoutMarker':
      return 'an oci-layout file';
    case 'registryResponse':
      return 'a registry response';
  }
}
