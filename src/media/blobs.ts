import type { Readable } from 'node:stream';
import { digestHex } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { VerifyStream } from '../oci/verify.js';
import type { FileSource } from './files.js';

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
  const stream = await files.open(path);
  const verify = new VerifyStream(d, `${what} ${d.digest} in ${files.description}`);
  stream.on('error', (err) => verify.destroy(err));
  return stream.pipe(verify);
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
