import { DistillError, isDistillError } from '../errors.js';
import { type MediaOptions, openArtifact, writeArtifact } from '../media/index.js';
import type { Digest } from '../oci/digest.js';
import type { Image } from '../oci/image.js';
import { formatDockerReference } from '../ref/docker.js';
import { formatImageRef, type ImageRef } from '../ref/transport.js';
import { type AttachedSignature, appendSignature, readSignatures, signatureTag } from './attachment.js';
import { parseSimpleSigning, simpleSigningPayload } from './payload.js';
import { keyVerifier, type Signer, type Verifier } from './signer.js';

/**
 * `distill sign` and `distill verify`: cosign's key-based signatures of an image in a registry
 * (the `sha256-<hex>.sig` tag beside it) or in an OCI layout (the same tag in its index.json).
 * Signing reads the image's digest, the attachment if there is one, appends a signature and
 * writes the attachment back; everything that can fail (the key, the image, the attachment)
 * fails before anything is written.
 */

export interface SignOptions extends MediaOptions {
  /**
   * The `docker-reference` the payload claims. Default: the reference signed, without its
   * digest (`registry/repo:tag`; the repository alone for a digest reference), which skopeo's
   * default `matchRepoDigestOrExact` accepts both for the tag and for the digest.
   */
  identity?: string;
  /** cosign's `-a key=value`: the payload's `optional` object. */
  annotations?: Record<string, string>;
}

export interface SignResult {
  /** The signed image's (or index's) manifest digest. */
  digest: Digest;
  identity: string;
  /** Where the attachment is: `registry/repo:sha256-<hex>.sig` or `oci:DIR:sha256-<hex>.sig`. */
  attachment: string;
  /** The attachment's manifest digest after signing. */
  attachmentDigest: Digest;
  /** False when an identical payload signed by the same key was already there: nothing was written. */
  written: boolean;
}

export interface VerifiedSignature {
  identity: string;
  optional: Record<string, unknown> | null;
  /** The payload layer's digest in the attachment. */
  payloadDigest: Digest;
}

export interface VerifyResult {
  digest: Digest;
  attachment: string;
  signatures: VerifiedSignature[];
}

function attachmentRef(ref: ImageRef, digest: Digest): ImageRef {
  const tag = signatureTag(digest);
  if (ref.transport === 'docker') {
    return { transport: 'docker', ref: { registry: ref.ref.registry, repository: ref.ref.repository, tag } };
  }
  if (ref.transport === 'oci') return { transport: 'oci', path: ref.path, tag };
  throw new DistillError(
    'USAGE',
    `${formatImageRef(ref)}: signatures live beside an image in a registry or an OCI layout (oci:DIR); copy it to one first`,
  );
}

function defaultIdentity(ref: ImageRef): string {
  if (ref.transport === 'docker') return formatDockerReference({ ...ref.ref, digest: undefined });
  if (ref.transport === 'oci' && ref.tag !== undefined) return ref.tag;
  throw new DistillError('USAGE', `${formatImageRef(ref)} has no name to sign it as; give --identity NAME`);
}

/** The attachment, or undefined when there is none. */
async function openAttachment(ref: ImageRef, opts: MediaOptions): Promise<Image | undefined> {
  try {
    const a = await openArtifact(ref, opts);
    if (a.kind !== 'image') {
      throw new DistillError(
        'MANIFEST_INVALID',
        `${formatImageRef(ref)} is an index, not a signature attachment; something else uses the tag`,
      );
    }
    return a;
  } catch (err) {
    if (isDistillError(err, 'MANIFEST_UNKNOWN') || isDistillError(err, 'TAG_NOT_FOUND')) return undefined;
    throw err;
  }
}

async function subjectDigest(ref: ImageRef, opts: MediaOptions): Promise<Digest> {
  if (ref.transport === 'docker' && ref.ref.digest !== undefined && ref.ref.tag === undefined) {
    // By digest: still fetched, so that signing a digest the registry lacks fails.
    await openArtifact(ref, opts);
    return ref.ref.digest;
  }
  return (await openArtifact(ref, opts)).manifest.digest;
}

/** Signs the image `ref` names with `signer`, appending to its `.sig` attachment. */
export async function signImage(ref: ImageRef, signer: Signer, opts: SignOptions = {}): Promise<SignResult> {
  const identity = opts.identity ?? defaultIdentity(ref);
  const digest = await subjectDigest(ref, opts);
  const target = attachmentRef(ref, digest);
  const where = formatImageRef(target);
  const existing = await openAttachment(target, opts);
  const present = existing ? await readSignatures(existing, where) : [];
  const payload = simpleSigningPayload(identity, digest, opts.annotations);
  const result = { digest, identity, attachment: where };
  if (signer.publicKey !== undefined && existing !== undefined) {
    const verifier = keyVerifier(signer.publicKey);
    if (present.some((s) => s.payload?.equals(payload) && verifies(verifier, s))) {
      return { ...result, attachmentDigest: existing.manifest.digest, written: false };
    }
  }
  const parts = await signer.sign(payload);
  const written = await writeArtifact(target, appendSignature(existing, payload, parts), opts);
  return { ...result, attachmentDigest: written.digest, written: true };
}

function verifies(verifier: Verifier, s: AttachedSignature): boolean {
  if (s.payload === undefined || s.signature === undefined) return false;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(s.signature)) return false;
  return verifier.verify(s.payload, Buffer.from(s.signature, 'base64'), s.descriptor.annotations ?? {});
}

/**
 * Verifies that a signature of the image `ref` names verifies with `verifier` and names this
 * image's digest. Throws, when none does, the most telling reason: SIGNATURE_MISSING (nothing
 * to check), SIGNATURE_DIGEST_MISMATCH (a good signature of another image, copied here),
 * SIGNATURE_TAMPERED (a payload altered where it is stored, or not a simple-signing document),
 * SIGNATURE_KEY_MISMATCH (signatures this key did not make). Writes nothing.
 */
export async function verifyImage(
  ref: ImageRef,
  verifier: Verifier,
  opts: MediaOptions = {},
): Promise<VerifyResult> {
  const digest = await subjectDigest(ref, opts);
  const target = attachmentRef(ref, digest);
  const where = formatImageRef(target);
  const attachment = await openAttachment(target, opts);
  const found = attachment ? await readSignatures(attachment, where) : [];
  if (found.length === 0) {
    throw new DistillError(
      'SIGNATURE_MISSING',
      `${formatImageRef(ref)} (${digest}) is not signed: ${where} ${attachment ? 'holds no signature' : 'does not exist'}`,
    );
  }
  const verified: VerifiedSignature[] = [];
  const failures: DistillError[] = [];
  for (const s of found) {
    if (s.problem !== undefined) {
      failures.push(s.problem);
      continue;
    }
    if (!verifies(verifier, s)) continue;
    // Parsed only once its signature verifies: what the key did not sign means nothing.
    let p: ReturnType<typeof parseSimpleSigning>;
    try {
      p = parseSimpleSigning(s.payload!, where);
    } catch (err) {
      if (!isDistillError(err, 'SIGNATURE_TAMPERED')) throw err;
      failures.push(err);
      continue;
    }
    if (p.digest !== digest) {
      failures.push(
        new DistillError(
          'SIGNATURE_DIGEST_MISMATCH',
          `${where}: a signature by this key is there, but it signs ${p.digest}, not ${digest}: it was made for another image and copied here`,
        ),
      );
      continue;
    }
    verified.push({ identity: p.dockerReference, optional: p.optional, payloadDigest: s.descriptor.digest });
  }
  if (verified.length > 0) return { digest, attachment: where, signatures: verified };
  throw (
    failures.find((f) => f.code === 'SIGNATURE_DIGEST_MISMATCH') ??
    failures.find((f) => f.code === 'SIGNATURE_TAMPERED') ??
    new DistillError(
      'SIGNATURE_KEY_MISMATCH',
      `${formatImageRef(ref)} (${digest}): none of its ${found.length} signature${found.length === 1 ? '' : 's'} verifies with this key; it was signed with another key (or its payload was changed)`,
    )
  );
}
