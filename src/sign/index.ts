/**
 * Signatures of images in cosign's key-based format (decision 0019): key files, the
 * simple-signing payload, the `.sig` attachment, `signImage` and `verifyImage`.
 */
export { SIGNATURE_ANNOTATION, signatureTag } from './attachment.js';
export {
  type StatementSigner,
  statementSigner,
  type VerifiedAttestation,
  verifyAttestation,
} from './attestation.js';
export {
  bundleStatement,
  type DsseEnvelope,
  IN_TOTO_PAYLOAD_TYPE,
  openEnvelope,
  pae,
  publicKeyHint,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  type SigstoreBundle,
  signEnvelope,
  sigstoreBundle,
} from './dsse.js';
export {
  type SignOptions,
  type SignResult,
  signImage,
  type VerifiedSignature,
  type VerifyResult,
  verifyImage,
} from './image.js';
export {
  generateKeyFiles,
  type KeyPairFiles,
  type PasswordSource,
  readPrivateKey,
  readPublicKey,
} from './keys.js';
export { parseSimpleSigning, SIMPLE_SIGNING_MEDIA_TYPE, simpleSigningPayload } from './payload.js';
export { keySigner, keyVerifier, type SignatureParts, type Signer, type Verifier } from './signer.js';
