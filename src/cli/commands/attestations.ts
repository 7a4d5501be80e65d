import { DistillError, isDistillError } from '../../errors.js';
import { selectPlatform } from '../../media/copy.js';
import { type MediaOptions, openArtifact } from '../../media/index.js';
import {
  type AttachedReferrer,
  DOCUMENT_MAX,
  openReferrer,
  subjectsOf,
  walkReferrers,
} from '../../media/referrers.js';
import { formatPlatform } from '../../oci/platform.js';
import { formatImageRef, type ImageRef, parseImageRef } from '../../ref/transport.js';
import {
  readPublicKey,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  type VerifiedAttestation,
  verifyAttestation,
} from '../../sign/index.js';
import { context, ExitWith, expectPositionals, platformChoice, textOrJson } from '../context.js';
import { formatBytes } from '../progress.js';
import type { Call, Values } from '../spec.js';
import type { ATTESTATIONS_OPTIONS } from '../specs/media.js';

/** `distill attestations REF`: the referrers of an image (and of an index's images), listed. */
export async function run(call: Call<Values<typeof ATTESTATIONS_OPTIONS>>): Promise<number> {
  const v = call.values;
  expectPositionals(
    call.positionals,
    1,
    1,
    'attestations needs one image reference: distill attestations REF',
  );
  const format = textOrJson(v.format);
  const ref = parseImageRef(call.positionals[0]!);
  const c = await context(call);
  const media = c.media('src');
  const artifact = await selectPlatform(await openArtifact(ref, media), platformChoice(v.platform) ?? 'all');
  const found = await walkReferrers(ref, await subjectsOf(artifact), media);
  // With --format json a failed check is printed too, `{"verified": false, "code", "message"}`, as
  // distill verify does: scripts tell the reasons apart by code.
  const verified =
    v.key === undefined
      ? undefined
      : await verifySigned(ref, found, v.key, media).catch(async (err: unknown) => {
          if (format !== 'json' || !isDistillError(err) || !err.userError) throw err;
          await call.print(JSON.stringify({ verified: false, code: err.code, message: err.message }));
          throw new ExitWith(1, err);
        });
  c.reporter.done();
  if (format === 'json') {
    await call.print(
      JSON.stringify({
        reference: formatImageRef(ref),
        digest: artifact.manifest.digest,
        referrers: found.map((a) => ({
          ...jsonEntry(a),
          ...(verified?.has(a.referrer.digest) && { verified: verified.get(a.referrer.digest) }),
        })),
      }),
    );
    return 0;
  }
  if (found.length === 0) {
    await call.print(`${formatImageRef(ref)} (${artifact.manifest.digest}) has nothing attached`);
    return 0;
  }
  await call.print(
    found
      .map((a) => {
        const ok = verified?.get(a.referrer.digest);
        return ok === undefined
          ? textEntry(a)
          : `${textEntry(a)}\n  verified: ${ok.predicateType}, signed by ${v.key}`;
      })
      .join('\n'),
  );
  return 0;
}

/**
 * `--key`: every Sigstore bundle attached is checked (sign/attestation.ts); one that fails stops
 * the command with its code, and an image with none is ATTESTATION_UNSIGNED.
 */
async function verifySigned(
  ref: ImageRef,
  found: readonly AttachedReferrer[],
  keyFile: string,
  media: MediaOptions,
): Promise<Map<string, VerifiedAttestation>> {
  const key = await readPublicKey(keyFile);
  const out = new Map<string, VerifiedAttestation>();
  for (const { subject, referrer } of found) {
    if (referrer.artifactType !== SIGSTORE_BUNDLE_MEDIA_TYPE) continue;
    const r = await openReferrer(ref, referrer, media);
    const blob = r.blobs.find((b) => b.descriptor.mediaType === SIGSTORE_BUNDLE_MEDIA_TYPE);
    if (blob === undefined || blob.descriptor.size > DOCUMENT_MAX) {
      throw new DistillError('ATTESTATION_TAMPERED', `referrer ${referrer.digest} holds no Sigstore bundle`);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of await blob.open()) chunks.push(chunk as Buffer);
    out.set(
      referrer.digest,
      verifyAttestation(Buffer.concat(chunks), subject.digest, key, `the attestation ${referrer.digest}`),
    );
  }
  if (out.size === 0) {
    throw new DistillError(
      'ATTESTATION_UNSIGNED',
      `${formatImageRef(ref)} has no signed attestation to check with ${keyFile}: build with --attest sbom,provenance --sign-key`,
    );
  }
  return out;
}

function jsonEntry({ subject, referrer }: AttachedReferrer): object {
  return {
    subject: {
      digest: subject.digest,
      mediaType: subject.mediaType,
      ...(subject.platform && { platform: formatPlatform(subject.platform) }),
    },
    artifactType: referrer.artifactType ?? null,
    mediaType: referrer.mediaType,
    digest: referrer.digest,
    size: referrer.size,
    annotations: referrer.annotations ?? {},
  };
}

function textEntry({ subject, referrer }: AttachedReferrer): string {
  const about = subject.platform ? `${subject.digest} (${formatPlatform(subject.platform)})` : subject.digest;
  const lines = [
    `${referrer.artifactType ?? referrer.mediaType}  ${referrer.digest}  ${formatBytes(referrer.size)}`,
    `  subject ${about}`,
  ];
  for (const [k, val] of Object.entries(referrer.annotations ?? {})) lines.push(`  ${k}=${val}`);
  return lines.join('\n');
}
