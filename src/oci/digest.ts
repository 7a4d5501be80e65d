import { createHash, type Hash } from 'node:crypto';
import { DistillError } from '../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';
/** `sha256:<64 hex>` or `sha512:<128 hex>`, lower case, as the OCI image spec defines them. */
export type Digest = `${DigestAlgorithm}:${string}`;

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };
const DIGEST_RE = /^(sha256|sha512):([a-f0-9]+)$/;

export function isDigest(s: string): s is Digest {
  const m = DIGEST_RE.exec(s);
  return m !== null && m[2]!.length === HEX_LENGTH[m[1] as DigestAlgorithm];
}

/** Parses and validates a digest string; throws DIGEST_INVALID naming the input. */
export function parseDigest(s: string): { algorithm: DigestAlgorithm; hex: string; digest: Digest } {
  const m = DIGEST_RE.exec(s);
  if (!m) {
    const hint = /^[a-z0-9]+:/.test(s)
      ? 'only sha256 and sha512 with lower-case hex are supported'
      : 'expected "sha256:" followed by 64 hex digits';
    throw new DistillError('DIGEST_INVALID', `"${truncate(s)}" is not a valid digest: ${hint}`);
  }
  const algorithm = m[1] as DigestAlgorithm;
  const hex = m[2]!;
  if (hex.length !== HEX_LENGTH[algorithm]) {
    throw new DistillError(
      'DIGEST_INVALID',
      `"${truncate(s)}" is not a valid digest: ${algorithm} needs ${HEX_LENGTH[algorithm]} hex digits, got ${hex.length}`,
    );
  }
  return { algorithm, hex, digest: s as Digest };
}

export function digestAlgorithm(d: Digest): DigestAlgorithm {
  return d.slice(0, d.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

/**
 * Bytes this process has hashed through digestOf and Digester (which VerifyStream and the store
 * use): a test reads it before and after an operation to check that each byte is hashed once.
 * One addition per chunk, nothing more.
 */
let bytesHashed = 0;

export function hashedByteCount(): number {
  return bytesHashed;
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  bytesHashed += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** Incremental digest and byte count, for one streaming pass. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  size = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    this.algorithm = algorithm;
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    bytesHashed += chunk.length;
  }

  digest(): Digest {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
