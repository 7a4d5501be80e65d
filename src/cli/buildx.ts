import { wrapError } from '../errors.js';
import { writeFileAtomic } from '../media/layout/write.js';
import type { Published } from '../media/publish.js';
import type { Artifact } from '../oci/image.js';
import { formatDockerReference } from '../ref/docker.js';
import { parseImageRef } from '../ref/transport.js';

/**
 * `--iidfile` and `--metadata-file`, written as `docker buildx build` writes them, so that
 * scripts made for buildx read them unchanged: the image ID is the config's digest (an index
 * has none: then its own digest), with no newline; the metadata is buildx's JSON object of
 * exporter results, indented by two spaces, keys sorted: `containerimage.config.digest`,
 * `containerimage.descriptor`, `containerimage.digest`, and `image.name` (the names written to
 * Docker or a registry, fully qualified, comma-separated). Both through a temp file and a rename.
 */
export function imageId(artifact: Artifact): string {
  return artifact.kind === 'image' ? artifact.config.digest : artifact.manifest.digest;
}

export function buildMetadata(artifact: Artifact, published: readonly Published[]): Record<string, unknown> {
  const names = published.flatMap((p) => {
    const r = parseImageRef(p.ref);
    return (r.transport === 'docker' || r.transport === 'docker-daemon') && r.ref
      ? [formatDockerReference(r.ref)]
      : [];
  });
  return {
    ...(artifact.kind === 'image' && { 'containerimage.config.digest': artifact.config.digest }),
    'containerimage.descriptor': {
      mediaType: artifact.manifest.mediaType,
      digest: artifact.manifest.digest,
      size: artifact.manifest.bytes.length,
    },
    'containerimage.digest': artifact.manifest.digest,
    ...(names.length > 0 && { 'image.name': [...new Set(names)].join(',') }),
  };
}

export async function writeBuildxFiles(
  artifact: Artifact,
  published: readonly Published[],
  files: { iidfile?: string; metadataFile?: string },
): Promise<void> {
  const write = async (path: string, text: string, what: string) => {
    try {
      await writeFileAtomic(path, text);
    } catch (err) {
      throw wrapError(err, `writing ${what} to ${path}`);
    }
  };
  if (files.iidfile !== undefined) await write(files.iidfile, imageId(artifact), 'the image ID');
  if (files.metadataFile !== undefined) {
    const text = JSON.stringify(buildMetadata(artifact, published), null, 2);
    await write(files.metadataFile, text, 'the build metadata');
  }
}
