import type { Readable } from 'node:stream';
import { type Digest, digestHex } from '../oci/digest.js';
import { checkJsonSize, type JsonKind, jsonLimit, tooLarge } from '../oci/limits.js';
import type { Descriptor } from '../oci/types.js';
import { VerifyStream, vouchFor } from '../oci/verify.js';
import type { FileSource } from './files.js';
import { joined } from './streams.js';

/** Path of a blob inside an OCI layout. */
export function blobPath(d: Pick<Descriptor, 'digest'>): string {
  const [alg] = d.digest.split(':');
  return `blobs/${alg}/${digestHex(d.digest)}`;
}

/**
 * A FileSource that hashed each of its files itself, as it wrote them to storage only this
 * process can reach (the Docker engine's save stream, spooled to an unlinked temporary file):
 * what it reports needs no second pass over the bytes.
 */
export interface HashedFiles extends FileSource {
  hashed(path: string): { digest: Digest; size: number } | undefined;
}

export function isHashedFiles(files: FileSource): files is HashedFiles {
  return typeof (files as Partial<HashedFiles>).hashed === 'function';
}

/**
 * Opens a blob of a layout or archive, verified against its descriptor while it is read (unless
 * the source already hashed exactly these bytes as the descriptor's: see HashedFiles).
 */
export async function openVerified(
  files: FileSource,
  path: string,
  d: Descriptor,
  what: string,
): Promise<Readable> {
  const known = isHashedFiles(files) ? files.hashed(path) : undefined;
  if (known !== undefined && known.digest === d.digest && known.size === d.size) {
    return vouchFor(await files.open(path), d);
  }
  return joined(await files.open(path), new VerifyStream(d, `${what} ${d.digest} in ${files.description}`));
}

/**
 * Reads a JSON document of a layout or archive (index.json, oci-layout, manifest.json), holding
 * it to its kind's size cap before any of it is read.
 */
export async function readDocument(
  files: FileSource,
  path: string,
  kind: JsonKind,
  what: string,
): Promise<Buffer> {
  checkJsonSize(kind, await files.size(path), what);
  return files.read(path, { bytes: jsonLimit(kind), tooBig: (n) => tooLarge(kind, what, `${n} bytes`) });
}

/** Progress events every medium reports while it moves blobs. */
export interface TransferProgress {
  blob?(e: {
    digest: string;
    done: number;
    total: number;
    phase: 'write' | 'skip' | 'push' | 'pull' | 'mount';
  }): void;
  step?(message: string): void;
}
