import { DistillError } from '../errors.js';
import { hostPlatform } from '../host.js';
import type { Artifact } from '../oci/image.js';
import { convertArtifact, imagePlatform, type ManifestFamily } from '../oci/mutate.js';
import { formatPlatform, normalizePlatform, platformMatches } from '../oci/platform.js';
import type { Descriptor, Platform } from '../oci/types.js';
import { type ImageRef, parseImageRef } from '../ref/transport.js';
import { type MediaOptions, openArtifact, writeArtifact } from './index.js';
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
}

/** `distill copy`: any medium to any medium. */
export async function copyImage(
  src: ImageRef,
  dst: ImageRef,
  opts: MediaOptions & {
    platform?: PlatformChoice;
    format?: ManifestFamily;
    sourceRegistry?: RegistryOptions;
  } = {},
): Promise<CopyResult> {
  opts.progress?.step?.('reading source');
  const artifact = await openArtifact(src, { ...opts, registry: opts.sourceRegistry ?? opts.registry ?? {} });
  let selected = await selectPlatform(artifact, opts.platform, dst);
  if (opts.format !== undefined) selected = await convertArtifact(selected, opts.format);
  opts.progress?.step?.('writing destination');
  const destination = await writeArtifact(dst, selected, { ...opts, sourceRef: src });
  return {
    source: {
      mediaType: selected.manifest.mediaType,
      digest: selected.manifest.digest,
      size: selected.manifest.bytes.length,
    },
    destination,
    platforms: artifactPlatforms(selected),
  };
}

export type CopyOptions = MediaOptions & {
  platform?: PlatformChoice;
  format?: ManifestFamily;
  sourceRegistry?: RegistryOptions;
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
