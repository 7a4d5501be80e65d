import { createHash } from 'node:crypto';
import { DistillError } from '../errors.js';

/**
 * in-toto attestation framework v1, the parts distill writes: the Statement (the layer that binds
 * a predicate to its subjects) and the ResourceDescriptor every subject and dependency is
 * (github.com/in-toto/attestation, spec/v1/statement.md and resource_descriptor.md). Written by
 * hand: it is a few plain JSON fields, and the npm packages for it (in-toto's own bindings are for
 * Go and Python) would add a dependency to build an object literal.
 */

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** The media type of a Statement as an OCI artifact (in-toto spec, "Statement layer"). */
export const STATEMENT_MEDIA_TYPE = 'application/vnd.in-toto+json';

/** A digest set: algorithm -> lower-case hex (or, for `gitCommit`, the commit id). */
export type DigestSet = Record<string, string>;

export interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest?: DigestSet;
  mediaType?: string;
  annotations?: Record<string, string>;
}

export interface Statement<P = unknown> {
  _type: typeof STATEMENT_TYPE;
  subject: ResourceDescriptor[];
  predicateType: string;
  predicate: P;
}

/** An OCI digest (`sha256:<hex>`) as a digest set. */
export function ociDigestSet(digest: string): DigestSet {
  const i = digest.indexOf(':');
  return { [digest.slice(0, i)]: digest.slice(i + 1) };
}

/**
 * An integrity as the npm registry gives it (SRI: `sha512-<base64>`, several separated by spaces)
 * or as a mirror's SHASUMS256.txt gives it (`sha256:<hex>`), as a digest set.
 */
export function integrityDigestSet(integrity: string): DigestSet {
  const out: DigestSet = {};
  for (const part of integrity.trim().split(/\s+/)) {
    const sri = /^(sha256|sha384|sha512)-([A-Za-z0-9+/]+={0,2})$/.exec(part);
    const hex = /^(sha256|sha512):([0-9a-f]+)$/.exec(part);
    if (sri) out[sri[1]!] = Buffer.from(sri[2]!, 'base64').toString('hex');
    else if (hex) out[hex[1]!] = hex[2]!;
  }
  if (Object.keys(out).length === 0) {
    throw new DistillError('INTERNAL', `"${integrity}" is not an integrity distill verified with`, {
      userError: false,
    });
  }
  return out;
}

export function sha256DigestSet(bytes: Uint8Array): DigestSet {
  return { sha256: createHash('sha256').update(bytes).digest('hex') };
}

/**
 * A Statement's bytes: JSON, keys in the order the objects were made, no whitespace. Every
 * object distill puts in one is made in a fixed order from sorted inputs, so the same build
 * gives the same bytes.
 */
export function statementBytes(s: Statement): Uint8Array {
  return Buffer.from(JSON.stringify(s));
}
