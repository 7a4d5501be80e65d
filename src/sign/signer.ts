import { createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import type { Annotations } from '../oci/types.js';

/**
 * Who signs, and how a signature is checked: the extension point between the signature
 * format (a payload and annotations on a layer of the `.sig` attachment) and the key material.
 *
 * distill ships the key-based pair (a key file; cosign `--key`). Keyless signing (an
 * ephemeral key, a Fulcio certificate for an OIDC identity, a Rekor transparency-log entry)
 * fits the same interface: its `sign` returns the signature plus the annotations cosign puts
 * beside it (`dev.sigstore.cosign/certificate`, `dev.sigstore.cosign/chain`,
 * `dev.sigstore.cosign/bundle`), and its verifier checks the certificate chain and the log
 * entry before the signature. Fulcio and Rekor cannot be reached from where distill is built,
 * so that signer is not written: nothing here pretends to do it.
 */
export interface Signer {
  /** Signs the payload's bytes; the signature goes base64 into `dev.cosignproject.cosign/signature`. */
  sign(payload: Uint8Array): Promise<SignatureParts>;
  /** The key that verifies what this signer signs, when there is one (to skip re-signing). */
  readonly publicKey?: KeyObject;
}

export interface SignatureParts {
  /** For ECDSA, ASN.1 DER, as cosign and containers/image expect. */
  signature: Buffer;
  /** Annotations beside the signature on the layer (certificates, bundles); none for a key. */
  annotations?: Annotations;
}

export interface Verifier {
  /** True when `signature` signs `payload` (its layer's annotations at hand for keyless checks). */
  verify(payload: Uint8Array, signature: Uint8Array, annotations: Annotations): boolean;
}

/** ECDSA P-256 with SHA-256 over the payload, the signature DER: cosign's key-based signing. */
export function keySigner(privateKey: KeyObject): Signer {
  return {
    publicKey: createPublicKey(privateKey),
    async sign(payload) {
      return { signature: sign('sha256', payload, { key: privateKey, dsaEncoding: 'der' }) };
    },
  };
}

export function keyVerifier(publicKey: KeyObject): Verifier {
  return {
    verify(payload, signature) {
      try {
        return verify('sha256', payload, { key: publicKey, dsaEncoding: 'der' }, signature);
      } catch {
        // A signature that is not DER at all is simply not a valid one.
        return false;
      }
    },
  };
}
