import { resolve } from 'node:path';
import { DistillError, isDistillError } from '../errors.js';
import type { Artifact, Image } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { DOCKER_HUB } from '../ref/docker.js';
import { type ImageRef, parseImageRef } from '../ref/transport.js';
import { artifactPlatforms, selectPlatform } from './copy.js';
import { holdsReferrers, type MediaOptions, writeArtifact } from './index.js';
import { pruneLayout } from './layout/write.js';
import { descriptorOfReferrer, type Referrer } from './referrer.js';

/**
 * One artifact to every output a command names (`-o`, `--load`, `--push`), as ko's
 * MultiPublisher does: the references are all checked before anything is written, then each is
 * written in turn, with a progress step. A medium that holds one image (docker-daemon:,
 * docker-archive:) gets the host's image of an index, as `distill copy` and `docker pull` do.
 * Outputs written before a failing one stay written (as with buildx).
 */
export interface PublishOptions extends MediaOptions {
  /**
   * oci: outputs, as given, that keep only what their index refers to: blobs of earlier writes
   * to that layout are removed after the write (distill build's own .distill/image).
   */
  prune?: readonly string[];
  /**
   * Artifacts attached to the artifact or its images (SBOMs, provenance): written with it to
   * every output that holds referrers (oci:, oci-archive:, registries); the others (docker-daemon:,
   * docker-archive:) get the image alone and say so in `referrersDropped`.
   */
  referrers?: readonly Referrer[];
}

export interface Published {
  /** The reference as given. */
  ref: string;
  /** What was written there: the manifest, or the index, with its digest in that medium. */
  descriptor: Descriptor;
  /** The image written, when one image was (not an index). */
  image?: Image;
  platforms: string[];
  /** The image is now in a Docker engine, under `ref`'s name. */
  inDocker: boolean;
  /** Blobs of earlier writes removed from the layout (see PublishOptions.prune). */
  pruned: number;
  /** The referrers written there with it. */
  referrers: Descriptor[];
  /** Referrers were given but the medium cannot hold them. */
  referrersDropped: boolean;
}

/**
 * A reference without a registry host names Docker Hub, as the Docker CLI reads it; when Docker
 * Hub cannot be reached, the user may have meant the local engine (`docker://app:1` in skopeo's
 * words is Docker Hub too): the error says how to write that.
 */
function hubHint(err: unknown, ref: string, target: ImageRef): unknown {
  if (!isDistillError(err, 'NETWORK') || target.transport !== 'docker') return err;
  if (target.ref.registry !== DOCKER_HUB) return err;
  const name = ref.replace(/^docker:\/\//, '');
  if (/^(docker\.io|index\.docker\.io|registry-1\.docker\.io)\//.test(name)) return err;
  return new DistillError(
    'NETWORK',
    `${err.message}\n${ref} names an image on Docker Hub (no registry host in it); to load the image into the local Docker engine, write docker-daemon:${name}`,
    { cause: err },
  );
}

export async function publish(
  artifact: Artifact,
  refs: readonly string[],
  opts: PublishOptions = {},
): Promise<Published[]> {
  const targets = refs.map((ref) => ({ ref, target: parseImageRef(ref) }));
  const results: Published[] = [];
  for (const { ref, target } of targets) {
    const selected = await selectPlatform(artifact, undefined, target);
    const platforms = artifactPlatforms(selected);
    opts.progress?.step?.(
      `writing ${ref}${selected === artifact ? '' : ` (the ${platforms.join(', ')} image)`}`,
    );
    const given = opts.referrers ?? [];
    const referrers = holdsReferrers(target) ? given : [];
    const descriptor = await writeArtifact(target, selected, { ...opts, referrers }).catch((err: unknown) => {
      throw hubHint(err, ref, target);
    });
    const pruned =
      target.transport === 'oci' && opts.prune?.includes(ref)
        ? await pruneLayout(resolve(target.path)).catch(() => 0)
        : 0;
    results.push({
      ref,
      descriptor,
      ...(selected.kind === 'image' && { image: selected }),
      platforms,
      inDocker: target.transport === 'docker-daemon',
      pruned,
      referrers: referrers.map(descriptorOfReferrer),
      referrersDropped: referrers.length < given.length,
    });
  }
  return results;
}
