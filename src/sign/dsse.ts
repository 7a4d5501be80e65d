import { createHash, type KeyObject } from 'node:crypto';
import { DistillError } from '../errors.js';
import type { Signer, Verifier } from './signer.js';

/**
 * DSSE envelopes (github.com/secure-systems-lab/dsse, v1.0) around in-toto statements, and the
 * Sigstore bundle v0.3 that carries one with its verification material: how attestations
 * (an SBOM's or provenance's statement) are signed with the same keys as images. The bundle's
 * verification material is the key's hint only (no certificate, no transparency-log entry, no
 * timestamp): a verifier needs the public key as trust material, as cosign's and
 * @sigstore/verify's key-based verification do.
 */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
export const SIGSTORE_BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';

export interface DsseEnvelope {
  /** base64 of the payload's bytes */
  payload: string;
  payloadType: string;
  signatures: { sig: string; keyid: string }[];
}

export interface SigstoreBundle {
  mediaType: typeof SIGSTORE_BUNDLE_MEDIA_TYPE;
  verificationMaterial: {
    publicKey: { hint: string };
    tlogEntries: [];
    timestampVerificationData: { rfc3161Timestamps: [] };
  };
  dsseEnvelope: DsseEnvelope;
}

/** DSSE's pre-authentication encoding: what is signed, so that the type cannot be swapped. */
export function pae(payloadType: string, payload: Uint8Array): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, 'utf8'),
    type,
    Buffer.from(` ${payload.length} `, 'utf8'),
    payload,
  ]);
}

/** A key's hint and DSSE keyid: the hex SHA-256 of its SPKI DER, the same for both halves. */
export function publicKeyHint(key: KeyObject): string {
  return createHash('sha256')
    .update(key.export({ format: 'der', type: 'spki' }))
    .digest('hex');
}

/** Signs `payload` in a DSSE envelope (one signature). */
export async function signEnvelope(
  payload: Uint8Array,
  payloadType: string,
  signer: Signer,
): Promise<DsseEnvelope> {
  const { signature } = await signer.sign(pae(payloadType, payload));
  const keyid = signer.publicKey ? publicKeyHint(signer.publicKey) : '';
  return {
    payload: Buffer.from(payload).toString('base64'),
    payloadType,
    signatures: [{ sig: signature.toString('base64'), keyid }],
  };
}

/**
 * The payload of an envelope one of whose signatures `verifier` accepts. SIGNATURE_TAMPERED
 * when it is not an envelope; SIGNATURE_KEY_MISMATCH when no signature verifies.
 */
export function openEnvelope(envelope: unknown, verifier: Verifier, where: string): Buffer {
  const e = envelope as Partial<DsseEnvelope> | null;
  const b64 = /^[A-Za-z0-9+/]*={0,2}$/;
  if (
    typeof e?.payload !== 'string' ||
    !b64.test(e.payload) ||
    typeof e.payloadType !== 'string' ||
    !Array.isArray(e.signatures)
  ) {
    throw new DistillError(
      'SIGNATURE_TAMPERED',
      `${where} is not a DSSE envelope (payload, payloadType, signatures)`,
    );
  }
  const payload = Buffer.from(e.payload, 'base64');
  const signed = pae(e.payloadType, payload);
  for (const s of e.signatures) {
    if (typeof s?.sig !== 'string' || !b64.test(s.sig)) continue;
    if (verifier.verify(signed, Buffer.from(s.sig, 'base64'), {})) return payload;
  }
  throw new DistillError(
    'SIGNATURE_KEY_MISMATCH',
    `${where}: none of the envelope's ${e.signatures.length} signature(s) verifies with this key (another key signed it, or its payload or type was changed)`,
  );
}

/** A Sigstore bundle v0.3 holding `envelope`, verified with the public key `hint` names. */
export function sigstoreBundle(envelope: DsseEnvelope, hint: string): SigstoreBundle {
  return {
    mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
    verificationMaterial: {
      publicKey: { hint },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] },
    },
    dsseEnvelope: envelope,
  };
}

/**
 * An in-toto statement (an SBOM's, a provenance) signed as a DSSE envelope in a Sigstore bundle
 * v0.3: what a referrer of media type SIGSTORE_BUNDLE_MEDIA_TYPE holds. The statement's bytes
 * are signed as given, so a deterministic statement gives a deterministic payload.
 */
export async function bundleStatement(statement: Uint8Array, signer: Signer): Promise<SigstoreBundle> {
  if (signer.publicKey === undefined) {
    throw new DistillError('USAGE', 'a key-based bundle needs a signer with a public key');
  }
  const envelope = await signEnvelope(statement, IN_TOTO_PAYLOAD_TYPE, signer);
  return sigstoreBundle(envelope, publicKeyHint(signer.publicKey));
}
