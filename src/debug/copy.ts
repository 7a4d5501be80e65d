import { DistillError } from '../errors.js';
import { hostPlatform } from '../host.js';
import { selectPlatform } from '../media/copy.js';
import { type MediaOptions, openArtifact } from '../media/index.js';
import { type Published, publish } from '../media/publish.js';
import type { Image } from '../oci/image.js';
import { appendLayers, convertImage, setAnnotations, setContainerConfig } from '../oci/mutate.js';
import { BUSYBOX_DIR } from '../plan/layout.js';
import type { ImageRef } from '../ref/transport.js';
import { buildToolbox, debianArch, type ToolboxDeps } from './toolbox.js';

/**
 * `distill debug --copy-image REF -o DEST` (as `kubectl debug --copy-to`): the same image with
 * the toolbox layer (Debian's busybox-static at /busybox) added on top, for runtimes distill
 * cannot reach. The entrypoint, command, user and env stay as they were, so the copy runs the
 * app as before (PATH gets /busybox at its end); `/busybox/sh` is there for whoever gets into it. The manifest says it is a
 * debug variant (annotation) and so does the config (label), and `inspect --deny shell` catches
 * it. An index gives the host's image.
 */
export const VARIANT_ANNOTATION = 'dev.distill.debug-variant';

export async function debugVariant(image: Image, deps: ToolboxDeps): Promise<Image> {
  const arch = debianArch(image.config.value.architecture);
  if (arch === undefined) throw new DistillError('CONFIG_INVALID', 'the image config names no architecture');
  const toolbox = await buildToolbox(arch, deps);
  const withLayer = appendLayers(image, {
    layer: toolbox.busyboxLayer,
    history: {
      created_by: `distill debug --copy-image: Debian's busybox-static at ${BUSYBOX_DIR}`,
      comment: 'debug variant',
    },
  });
  const cfg = image.config.value.config ?? {};
  const labelled = setContainerConfig(withLayer, {
    Labels: { ...(cfg.Labels ?? {}), [VARIANT_ANNOTATION]: 'true' },
    // /busybox last on PATH, as base --debug has it: the image's own programs still come first,
    // and `inspect` (which looks on PATH) sees the shell.
    Env: withBusyboxOnPath(cfg.Env ?? []),
  });
  const annotated = setAnnotations(labelled, { [VARIANT_ANNOTATION]: 'true' });
  // A Docker-family manifest keeps its family: the toolbox layer's media type follows it.
  return image.manifest.mediaType.includes('docker') ? convertImage(annotated, 'docker') : annotated;
}

function withBusyboxOnPath(env: readonly string[]): string[] {
  const i = env.findIndex((e) => e.startsWith('PATH='));
  if (i < 0)
    return [...env, `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${BUSYBOX_DIR}`];
  const path = env[i]!.slice('PATH='.length);
  if (path.split(':').includes(BUSYBOX_DIR)) return [...env];
  return env.map((e, j) => (j === i ? `PATH=${path}${path === '' ? '' : ':'}${BUSYBOX_DIR}` : e));
}

/** Opens `src`, makes its debug variant and writes it to each of `outputs`. */
export async function copyDebugImage(
  src: ImageRef,
  outputs: readonly string[],
  deps: ToolboxDeps & { media: MediaOptions },
): Promise<{ source: Image; variant: Image; published: Published[] }> {
  const artifact = await selectPlatform(await openArtifact(src, deps.media), hostPlatform());
  if (artifact.kind !== 'image') throw new DistillError('INTERNAL', 'a platform of an index is an image');
  const variant = await debugVariant(artifact, deps);
  deps.step?.(`${artifact.manifest.digest} + the toolbox layer = ${variant.manifest.digest}`);
  const published = await publish(variant, outputs, deps.media);
  return { source: artifact, variant, published };
}
