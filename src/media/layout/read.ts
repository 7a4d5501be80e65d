import { DistillError } from '../../errors.js';
import { isDigest } from '../../oci/digest.js';
import { type Artifact, loadManifest } from '../../oci/image.js';
import { checkJsonSize, type JsonKind } from '../../oci/limits.js';
import { isImageManifest } from '../../oci/mediatypes.js';
import type { Descriptor, IndexJson } from '../../oci/types.js';
import { parseJsonDocument, validateIndex } from '../../oci/validate.js';
import { verifyBytes } from '../../oci/verify.js';
import { blobPath, openVerified, readDocument } from '../blobs.js';
import type { FileSource } from '../files.js';

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** Reads a layout's `oci-layout` marker and `index.json`. */
export async function readLayoutIndex(files: FileSource): Promise<IndexJson> {
  if (!(await files.exists('oci-layout'))) {
    throw new DistillError(
      'LAYOUT_INVALID',
      `${files.description} is not an OCI image layout (it has no oci-layout file)`,
    );
  }
  const markerWhat = `${files.description}: oci-layout`;
  const marker = parseJsonDocument(
    await readDocument(files, 'oci-layout', 'layoutMarker', markerWhat),
    markerWhat,
    'layoutMarker',
  ) as { imageLayoutVersion?: unknown };
  if (marker.imageLayoutVersion !== '1.0.0') {
    throw new DistillError(
      'LAYOUT_INVALID',
      `${files.description} has imageLayoutVersion ${JSON.stringify(marker.imageLayoutVersion)}; distill reads 1.0.0`,
    );
  }
  if (!(await files.exists('index.json'))) {
    throw new DistillError('LAYOUT_INVALID', `${files.description} has no index.json`);
  }
  const what = `${files.description}: index.json`;
  return validateIndex(
    parseJsonDocument(await readDocument(files, 'index.json', 'index', what), what, 'index'),
    what,
  );
}

/** The tags of a layout, in index order. */
export function layoutTags(index: IndexJson): string[] {
  return index.manifests.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => t !== undefined);
}

/**
 * Picks the descriptor a tag names in index.json. Without a tag, the layout must hold exactly
 * one image (or index); a digest may stand for the tag too.
 */
export function selectFromIndex(index: IndexJson, tag: string | undefined, description: string): Descriptor {
  if (tag !== undefined) {
    const byTag = index.manifests.filter((m) => m.annotations?.[REF_NAME] === tag);
    if (byTag.length === 1) return byTag[0]!;
    if (byTag.length > 1) {
      throw new DistillError('TAG_AMBIGUOUS', `${description} has ${byTag.length} entries tagged "${tag}"`);
    }
    if (isDigest(tag)) {
      const byDigest = index.manifests.find((m) => m.digest === tag);
      if (byDigest) return byDigest;
    }
    const tags = layoutTags(index);
    throw new DistillError(
      'TAG_NOT_FOUND',
      `${description} has no image tagged "${tag}"${tags.length > 0 ? `; its tags are ${tags.join(', ')}` : ' (it has no tags)'}`,
    );
  }
  // Artifacts attached to an image (an SBOM, a provenance statement) are not images to pick.
  const images = index.manifests.filter((m) => m.artifactType === undefined);
  if (images.length === 1) return images[0]!;
  if (images.length === 0) {
    throw new DistillError('TAG_NOT_FOUND', `${description} holds no image`);
  }
  const tags = layoutTags(index);
  throw new DistillError(
    'TAG_AMBIGUOUS',
    `${description} holds ${images.length} images; name one with :TAG${tags.length > 0 ? ` (tags: ${tags.join(', ')})` : ''}`,
  );
}

/** Loads the image or index a descriptor names from the blobs of a layout (or archive). */
export async function loadArtifact(files: FileSource, d: Descriptor): Promise<Artifact> {
  const kind = isImageManifest(d.mediaType) ? 'manifest' : 'index';
  return loadManifest(await readBlob(files, d, 'manifest', kind), d.mediaType, d.digest, {
    where: files.description,
    readConfig: (cd) => readBlob(files, cd, 'config', 'config'),
    openLayer: (ld) => openVerified(files, blobPath(ld), ld, 'layer'),
    child: (c) => loadArtifact(files, c),
  });
}

/**
 * Reads a small blob (a manifest, an index, a config) fully and checks it against its
 * descriptor. Its declared size is held to the JSON cap of its kind and compared with the file's
 * before anything is read, so a blob that is too big is never buffered.
 */
export async function readBlob(
  files: FileSource,
  d: Descriptor,
  what: string,
  kind: JsonKind,
): Promise<Buffer> {
  const path = blobPath(d);
  const where = `${what} ${d.digest} in ${files.description}`;
  if (!(await files.exists(path))) {
    throw new DistillError(
      'BLOB_MISSING',
      `${files.description} lacks the ${what} blob ${d.digest} that its index or manifest names`,
    );
  }
  checkJsonSize(kind, d.size, where);
  const size = await files.size(path);
  if (size !== d.size) throw sizeMismatch(where, size, d);
  const bytes = await files.read(path, {
    bytes: d.size,
    tooBig: (n) => sizeMismatch(where, n, d),
  });
  verifyBytes(bytes, d, where);
  return bytes;
}

function sizeMismatch(where: string, size: number, d: Descriptor): DistillError {
  return new DistillError(
    'SIZE_MISMATCH',
    `${where}: the file has ${size} bytes, its descriptor declares ${d.size} (${d.digest})`,
  );
}

/** Opens the artifact `tag` names in a layout (or the only one). */
export async function readLayout(files: FileSource, tag?: string): Promise<Artifact> {
  const index = await readLayoutIndex(files);
  return loadArtifact(files, selectFromIndex(index, tag, files.description));
}
