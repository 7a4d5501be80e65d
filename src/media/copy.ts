import { DistillError } from '../errors.js';
import { hostPlatform } from '../host.js';
import type { Artifact } from '../oci/image.js';
import { convertArtifact, imagePlatform, type ManifestFamily } from '../oci/mutate.js';
import { formatPlatform, normalizePlatform, platformMatches } from '../oci/platform.js';
import type { Descriptor, Platform } from '../oci/types.js';
import { type ImageRef, parseImageRef } from '../ref/transport.js';
import { holdsReferrers, type MediaOptions, openArtifact, writeArtifact } from './index.js';
import { descriptorOfReferrer } from './referrer.js';
import { collectReferrers, subjectsOf } from './referrers.js';
import type { RegistryOptions } from './registry/index.js';

export type PlatformChoice = Platform | 'all';

/** Media that hold one image, not an index. */
export function singleImageMedium(ref: ImageRef): boolean {
  return ref.transport === 'docker-archive' || ref.transport === 'docker-daemon';
}

/**
 * Picks what to copy. `all` keeps an index whole; a platform picks that image from an index
 * (or checks a single image is for it). Without a choice, an index is kept whole unless the
 * destination holds a single image, where the host's platform is picked (as `docker pull` does).
 */
export async function selectPlatform(
  artifact: Artifact,
  choice: PlatformChoice | undefined,
  destination?: ImageRef,
): Promise<Artifact> {
  if (choice === 'all') return artifact;
  let wanted = choice;
  if (wanted === undefined) {
    if (artifact.kind === 'image' || destination === undefined || !singleImageMedium(destination))
      return artifact;
    wanted = hostPlatform();
  }
  if (artifact.kind === 'image') {
    const p = imagePlatform(artifact);
    if (!platformMatches(wanted, p)) {
      throw new DistillError(
        'PLATFORM_NOT_FOUND',
        `the image is for ${formatPlatform(p)}, not ${formatPlatform(normalizePlatform(wanted))}`,
      );
    }
    return artifact;
  }
  const available: string[] = [];
  for (const d of artifact.manifest.value.manifests) {
    if (d.platform === undefined) continue;
    available.push(formatPlatform(normalizePlatform(d.platform)));
    if (platformMatches(wanted, d.platform)) return selectPlatform(await artifact.child(d), wanted);
  }
  throw new DistillError(
    'PLATFORM_NOT_FOUND',
    `the index has no image for ${formatPlatform(normalizePlatform(wanted))}; it has ${available.join(', ') || 'no platform entries'}`,
  );
}

/** The platforms an artifact holds. */
export function artifactPlatforms(artifact: Artifact): string[] {
  if (artifact.kind === 'image') return [formatPlatform(imagePlatform(artifact))];
  return artifact.manifest.value.manifests
    .filter((d) => d.platform !== undefined)
    .map((d) => formatPlatform(normalizePlatform(d.platform!)));
}

export interface CopyResult {
  source: Descriptor;
  destination: Descriptor;
  platforms: string[];
  /** The referrers (SBOMs, provenance, signatures) carried along. */
  referrers: Descriptor[];
}

/** `distill copy`: any medium to any medium. */
export async function copyImage(src: ImageRef, dst: ImageRef, opts: CopyOptions = {}): Promise<CopyResult> {
  opts.progress?.step?.('reading source');
  const sourceOpts = { ...opts, registry: opts.sourceRegistry ?? opts.registry ?? {} };
  const artifact = await openArtifact(src, sourceOpts);
  let selected = await selectPlatform(artifact, opts.platform, dst);
  if (opts.format !== undefined) selected = await convertArtifact(selected, opts.format);
  const carry = carriesReferrers(
    src,
    dst,
    opts.referrers,
    selected !== artifact && opts.format !== undefined,
  );
  const referrers = carry ? await collectReferrers(src, await subjectsOf(selected), sourceOpts) : [];
  opts.progress?.step?.('writing destination');
  const destination = await writeArtifact(dst, selected, { ...opts, sourceRef: src, referrers });
  return {
    source: {
      mediaType: selected.manifest.mediaType,
      digest: selected.manifest.digest,
      size: selected.manifest.bytes.length,
    },
    destination,
    platforms: artifactPlatforms(selected),
    referrers: referrers.map(descriptorOfReferrer),
  };
}

/**
 * Whether a copy carries referrers: asked for (true), refused (false), or by default where both
 * media hold them and the manifests keep their digests (a converted manifest is another subject).
 */
function carriesReferrers(
  src: ImageRef,
  dst: ImageRef,
  asked: boolean | undefined,
  converted: boolean,
): boolean {
  if (asked === false) return false;
  const possible = holdsReferrers(src) && holdsReferrers(dst);
  if (asked === true && !possible) {
    throw new DistillError(
      'REFERRERS_UNSUPPORTED',
      `--referrers: ${holdsReferrers(dst) ? src.transport : dst.transport}: holds no referrers; copy between oci:, oci-archive: and registries, or drop --referrers`,
    );
  }
  if (asked === true && converted) {
    throw new DistillError(
      'USAGE',
      '--referrers with --manifest-format: converting changes the digests the referrers name; drop one of them',
    );
  }
  return possible && !converted;
}

export type CopyOptions = MediaOptions & {
  platform?: PlatformChoice;
  format?: ManifestFamily;
  sourceRegistry?: RegistryOptions;
  /** Carry referrers along: default where both media hold them (see carriesReferrers). */
  referrers?: boolean;
};

/**
 * The library's `copy`: copyImage with references as `distill copy` takes them (strings), or
 * parsed. An index is copied whole unless `platform` picks one image.
 */
export function copy(
  src: string | ImageRef,
  dst: string | ImageRef,
  opts: CopyOptions = {},
): Promise<CopyResult> {
  const ref = (r: string | ImageRef) => (typeof r === 'string' ? parseImageRef(r) : r);
  return copyImage(ref(src), ref(dst), opts);
}
