import { selectPlatform } from '../../media/copy.js';
import { openArtifact } from '../../media/index.js';
import { type AttachedReferrer, subjectsOf, walkReferrers } from '../../media/referrers.js';
import { formatPlatform } from '../../oci/platform.js';
import { formatImageRef, parseImageRef } from '../../ref/transport.js';
import { context, expectPositionals, platformChoice, textOrJson } from '../context.js';
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
  c.reporter.done();
  if (format === 'json') {
    await call.print(
      JSON.stringify({
        reference: formatImageRef(ref),
        digest: artifact.manifest.digest,
        referrers: found.map(jsonEntry),
      }),
    );
    return 0;
  }
  if (found.length === 0) {
    await call.print(`${formatImageRef(ref)} (${artifact.manifest.digest}) has nothing attached`);
    return 0;
  }
  await call.print(found.map(textEntry).join('\n'));
  return 0;
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
