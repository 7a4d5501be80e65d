import type { AttestOptions } from '../build/attest.js';
import type { WrittenOutput } from '../build/outputs.js';
import { DistillError } from '../errors.js';
import { hostPlatform } from '../host.js';
import { selectPlatform } from '../media/copy.js';
import { type MediaOptions, openArtifact } from '../media/index.js';
import { readAttachedDocument } from '../media/referrers.js';
import { parsePlatform } from '../oci/platform.js';
import { ArtifactType } from '../oci/referrers.js';
import { parseImageRef } from '../ref/transport.js';
import { usage } from './context.js';

/** The flags that never go into a provenance: where outputs go, how to print, and credentials. */
const NOT_ATTESTED = new Set([
  'output',
  'tag',
  'push',
  'load',
  'quiet',
  'format',
  'plan',
  'iidfile',
  'metadata-file',
  'creds',
  'src-creds',
  'dest-creds',
  'insecure',
  'help',
  'sign-key',
]);

/**
 * `--attest KIND,...`, `--sbom` and `--attest-timestamps` as the build's AttestOptions; undefined
 * when nothing is to be attached. The flags given (but outputs, printing and credentials) are the
 * provenance's externalParameters: what the user asked for, nothing of the machine.
 */
export function attestOptions(values: Record<string, unknown>, command: string): AttestOptions | undefined {
  const kinds = new Set<string>();
  for (const k of String(values.attest ?? '').split(',')) if (k.trim() !== '') kinds.add(k.trim());
  if (values.sbom === true) kinds.add('sbom');
  for (const k of kinds) {
    if (k !== 'sbom' && k !== 'provenance') {
      throw usage(`--attest takes sbom and provenance (comma-separated), not "${k}"`);
    }
  }
  if (kinds.size === 0) {
    if (values['attest-timestamps'] === true)
      throw usage('--attest-timestamps goes with --attest provenance');
    return undefined;
  }
  // Option names are [a-z0-9-], which code units order as localeCompare did (test/cli/attestations);
  // the first localeCompare of a process builds ICU's collator: about 25 ms of a warm build.
  const flags = Object.fromEntries(
    Object.entries(values)
      .filter(([k]) => !NOT_ATTESTED.has(k))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
  return {
    provenance: kinds.has('provenance'),
    sbom: kinds.has('sbom'),
    request: { command, flags },
    ...(values['attest-timestamps'] === true && { startedOn: new Date().toISOString() }),
  };
}

/** What was attached, for --format json: the referrers' digests, per output. */
export function attachedJson(published: readonly WrittenOutput[]): object[] {
  return published.map((p) => ({
    ref: p.ref,
    referrers: p.referrers.map((r) => ({ artifactType: r.artifactType, digest: r.digest, size: r.size })),
  }));
}

/** What was attached, one line per output that holds referrers, for the text report. */
export function attachedLines(published: readonly WrittenOutput[]): string[] {
  return published
    .filter((p) => p.referrers.length > 0)
    .map(
      (p) =>
        `  attached to ${p.ref}: ${p.referrers.map((r) => `${r.artifactType ?? r.mediaType} ${r.digest}`).join(', ')}`,
    );
}

/**
 * `distill sbom REF --attached`: the SBOM attached to the image (the host's, or --platform's, of
 * an index) in the format asked, byte for byte as it was attached; ATTESTATION_NOT_FOUND when
 * none of that format is.
 */
export async function attachedSbom(
  refText: string,
  platform: string | undefined,
  format: 'spdx-json' | 'cyclonedx-json',
  media: MediaOptions,
): Promise<string> {
  const ref = parseImageRef(refText);
  const artifact = await selectPlatform(
    await openArtifact(ref, media),
    platform !== undefined ? parsePlatform(platform) : hostPlatform(),
  );
  const type = format === 'spdx-json' ? ArtifactType.Spdx : ArtifactType.CycloneDx;
  const found = await readAttachedDocument(ref, artifact.manifest.digest, [type], media);
  if (found === undefined) {
    throw new DistillError(
      'ATTESTATION_NOT_FOUND',
      `${refText} (${artifact.manifest.digest}) has no ${format} SBOM attached; list what it has with distill attestations ${refText}, or make one from the image with distill sbom ${refText}`,
    );
  }
  return found.bytes.toString('utf8');
}
