import type { KeyObject } from 'node:crypto';
import { DistillError } from '../errors.js';
import { bundleStatement, openEnvelope, publicKeyHint, SIGSTORE_BUNDLE_MEDIA_TYPE } from './dsse.js';
import { keyVerifier, type Signer } from './signer.js';

/**
 * Attestations signed with a key (`--attest ... --sign-key FILE`, decision 0033): the in-toto
 * statement a build attaches, signed as a DSSE envelope in a Sigstore bundle v0.3 (dsse.ts),
 * attached beside the statement as its own referrer; `distill attestations REF --key PUB` checks
 * each such bundle: signed by the key, its payload an in-toto statement about the image it is
 * attached to.
 */

/** What a build hands its attestations to sign: a statement's bytes to a bundle's. */
export type StatementSigner = (statement: Uint8Array) => Promise<{ mediaType: string; bytes: Uint8Array }>;

export function statementSigner(signer: Signer): StatementSigner {
  return async (statement) => ({
    mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    bytes: Buffer.from(JSON.stringify(await bundleStatement(statement, signer))),
  });
}

export interface VerifiedAttestation {
  predicateType: string;
  /** The digests (`sha256:<hex>`) the statement is about. */
  subjects: string[];
}

function tampered(where: string, why: string): DistillError {
  return new DistillError(
    'ATTESTATION_TAMPERED',
    `${where}: ${why}; the attestation was changed after it was signed: do not trust it, build and attest again`,
  );
}

/**
 * Checks a Sigstore bundle attached to `subject`: its DSSE envelope signed by `publicKey`, its
 * payload an in-toto statement naming `subject`. SIGNATURE_KEY_MISMATCH when another key signed
 * it; ATTESTATION_TAMPERED when this key's signature does not verify (the payload, its type or the
 * signature changed) or the bundle is not one; ATTESTATION_SUBJECT_MISMATCH when the statement is
 * about another image.
 */
export function verifyAttestation(
  bytes: Uint8Array,
  subject: string,
  publicKey: KeyObject,
  where: string,
): VerifiedAttestation {
  let bundle: { mediaType?: unknown; dsseEnvelope?: { signatures?: { keyid?: unknown }[] } };
  try {
    bundle = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof bundle;
  } catch {
    throw tampered(where, 'the bundle is not JSON');
  }
  if (bundle?.mediaType !== SIGSTORE_BUNDLE_MEDIA_TYPE || typeof bundle.dsseEnvelope !== 'object') {
    throw tampered(where, `not a Sigstore bundle (${SIGSTORE_BUNDLE_MEDIA_TYPE}) with a DSSE envelope`);
  }
  const hint = publicKeyHint(publicKey);
  const keyids = (bundle.dsseEnvelope.signatures ?? []).map((s) => s?.keyid);
  let payload: Buffer;
  try {
    payload = openEnvelope(bundle.dsseEnvelope, keyVerifier(publicKey), where);
  } catch (err) {
    // A signature this key made (its keyid) that no longer verifies: something was changed.
    if (keyids.includes(hint) || (err as DistillError).code === 'SIGNATURE_TAMPERED') {
      throw tampered(where, 'its signature by this key does not verify');
    }
    throw err;
  }
  let statement: { predicateType?: unknown; subject?: { digest?: Record<string, unknown> }[] };
  try {
    statement = JSON.parse(payload.toString('utf8')) as typeof statement;
  } catch {
    throw tampered(where, 'the signed payload is not JSON');
  }
  const subjects = (Array.isArray(statement?.subject) ? statement.subject : [])
    .map((s) => s?.digest?.sha256)
    .filter((h): h is string => typeof h === 'string')
    .map((h) => `sha256:${h}`);
  if (!subjects.includes(subject)) {
    throw new DistillError(
      'ATTESTATION_SUBJECT_MISMATCH',
      `${where}: the signed statement is about ${subjects.join(', ') || 'nothing'}, not ${subject} it is attached to; it was moved from another image`,
    );
  }
  return { predicateType: String(statement.predicateType ?? ''), subjects };
}
