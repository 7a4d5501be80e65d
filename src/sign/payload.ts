import { DistillError } from '../errors.js';
import { type Digest, isDigest } from '../oci/digest.js';

/**
 * The "simple signing" payload cosign signs for an image, the document containers/image
 * (skopeo, podman, CRI-O) checks for a `sigstoreSigned` policy requirement:
 *
 *   {"critical":{"identity":{"docker-reference":"REPO[:TAG]"},
 *                "image":{"docker-manifest-digest":"sha256:..."},
 *                "type":"cosign container image signature"},
 *    "optional":null}
 *
 * Keys in this order (cosign marshals a Go struct in it); `optional` is null without
 * annotations, else an object of strings. containers/image parses it strictly: exactly these
 * keys in `critical`, `identity` and `image`, the type string exact.
 */
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const SIGNATURE_TYPE = 'cosign container image signature';

export interface SimpleSigning {
  /** The docker reference the signer claimed (repository, with a tag when one was signed). */
  dockerReference: string;
  digest: Digest;
  /** The `optional` object: cosign's `-a key=value` annotations; null without any. */
  optional: Record<string, unknown> | null;
}

export function simpleSigningPayload(
  dockerReference: string,
  digest: Digest,
  annotations: Record<string, string> = {},
): Buffer {
  const optional = Object.keys(annotations).length > 0 ? annotations : null;
  return Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': digest },
        type: SIGNATURE_TYPE,
      },
      optional,
    }),
    'utf8',
  );
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function exactKeys(v: unknown, keys: readonly string[], field: string): Record<string, unknown> {
  if (!isObject(v)) throw new Error(`"${field}" is not an object`);
  const have = Object.keys(v).sort();
  const want = [...keys].sort();
  if (have.length !== want.length || have.some((k, i) => k !== want[i])) {
    throw new Error(`"${field}" has the keys ${have.join(', ') || '(none)'}, not ${want.join(', ')}`);
  }
  return v;
}

/**
 * Parses a payload as containers/image does (the same exact keys), so that what `distill
 * verify` accepts skopeo accepts too. A payload that is not one is SIGNATURE_TAMPERED: it was
 * signed (or it would not have got here) or it was altered.
 */
export function parseSimpleSigning(bytes: Uint8Array, where: string): SimpleSigning {
  try {
    const doc = exactKeys(
      JSON.parse(Buffer.from(bytes).toString('utf8')),
      ['critical', 'optional'],
      '(root)',
    );
    const critical = exactKeys(doc.critical, ['identity', 'image', 'type'], 'critical');
    if (critical.type !== SIGNATURE_TYPE) throw new Error(`critical.type is not "${SIGNATURE_TYPE}"`);
    const image = exactKeys(critical.image, ['docker-manifest-digest'], 'critical.image');
    const identity = exactKeys(critical.identity, ['docker-reference'], 'critical.identity');
    const digest = image['docker-manifest-digest'];
    const ref = identity['docker-reference'];
    if (typeof digest !== 'string' || !isDigest(digest))
      throw new Error('the manifest digest is not a digest');
    if (typeof ref !== 'string') throw new Error('the docker reference is not a string');
    if (doc.optional !== null && !isObject(doc.optional))
      throw new Error('"optional" is neither null nor an object');
    return { dockerReference: ref, digest, optional: doc.optional as Record<string, unknown> | null };
  } catch (err) {
    throw new DistillError(
      'SIGNATURE_TAMPERED',
      `${where}: the signed payload is not a cosign simple-signing document (${(err as Error).message}); it was altered or written by something else`,
      { cause: err },
    );
  }
}
