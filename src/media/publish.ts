import { resolve } from 'node:path';
import type { Artifact, Image } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { parseImageRef } from '../ref/transport.js';
import { artifactPlatforms, selectPlatform } from './copy.js';
import { type MediaOptions, writeArtifact } from './index.js';
import { pruneLayout } from './layout/write.js';

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
    const descriptor = await writeArtifact(target, selected, opts);
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
    });
  }
  return results;
}
