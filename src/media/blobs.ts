import type { Readable } from 'node:stream';
import { digestHex } from '../oci/digest.js';
import { checkJsonSize, type JsonKind, jsonLimit, tooLarge } from '../oci/limits.js';
import type { Descriptor } from '../oci/types.js';
import { VerifyStream } from '../oci/verify.js';
import type { FileSource } from './files.js';
import { joined } from './streams.js';

/** Path of a blob inside an OCI layout. */
export function blobPath(d: Pick<Descriptor, 'digest'>): string {
  const [alg] = d.digest.split(':');
  return `blobs/${alg}/${digestHex(d.digest)}`;
}

/** Opens a blob of a layout or archive, verified against its descriptor while it is read. */
export async function openVerified(
  files: FileSource,
  path: string,
  d: Descriptor,
  what: string,
): Promise<Readable> {
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
