import type { Pack } from 'tar-stream';
import { DistillError } from '../../errors.js';
import { type Digest, Digester, digestOf, isDigest } from '../../oci/digest.js';
import {
  type Artifact,
  assembleImage,
  descriptorOf,
  type Image,
  parseConfig,
  rawJsonFromValue,
} from '../../oci/image.js';
import { isIndex, layerMediaType, MediaType } from '../../oci/mediatypes.js';
import type { Descriptor, ManifestJson } from '../../oci/types.js';
import { parseJsonDocument } from '../../oci/validate.js';
import { type DockerReference, familiarName, parseDockerReference } from '../../ref/docker.js';
import { blobPath, isHashedFiles, openVerified, readDocument, type TransferProgress } from '../blobs.js';
import type { FileSource } from '../files.js';
import { loadArtifact, REF_NAME, readLayoutIndex } from '../layout/read.js';
import { mergeIndex, packLayout } from '../layout/write.js';
import { packEntry, writeTarFile } from '../tarsink.js';

/**
 * docker-archive: what `docker save` writes and `docker load` reads. A `manifest.json` lists,
 * per image, the config file, the layer files and the RepoTags. Docker 25+ also puts an OCI
 * layout (oci-layout, index.json, blobs/) in the same tar; distill writes that newer form (so
 * the manifest, and its digest, survive a round trip) and reads both.
 */
interface ArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

function readManifestJson(bytes: Buffer, description: string): ArchiveEntry[] {
  const v = parseJsonDocument(bytes, `${description}: manifest.json`, 'archiveManifest');
  if (
    !Array.isArray(v) ||
    v.some(
      (e) =>
        typeof e !== 'object' ||
        e === null ||
        typeof e.Config !== 'string' ||
        !Array.isArray(e.Layers) ||
        e.Layers.some((l: unknown) => typeof l !== 'string'),
    )
  ) {
    throw new DistillError(
      'ARCHIVE_INVALID',
      `${description}: manifest.json must be a list of {Config, RepoTags, Layers} entries`,
    );
  }
  return v as ArchiveEntry[];
}

function selectEntry(
  entries: ArchiveEntry[],
  ref: DockerReference | undefined,
  description: string,
): ArchiveEntry {
  const tagsOf = (e: ArchiveEntry) => (e.RepoTags ?? []).map((t) => familiarName(parseDockerReference(t)));
  if (ref !== undefined) {
    const want = familiarName(ref);
    const hit = entries.find((e) => tagsOf(e).includes(want));
    if (hit) return hit;
    const all = entries.flatMap(tagsOf);
    throw new DistillError(
      'TAG_NOT_FOUND',
      `${description} has no image tagged ${want}${all.length > 0 ? `; it has ${all.join(', ')}` : ''}`,
    );
  }
  if (entries.length === 1) return entries[0]!;
  if (entries.length === 0) throw new DistillError('ARCHIVE_INVALID', `${description} holds no image`);
  throw new DistillError(
    'TAG_AMBIGUOUS',
    `${description} holds ${entries.length} images; name one, e.g. docker-archive:FILE:${tagsOf(entries[0]!)[0] ?? 'NAME:TAG'}`,
  );
}

/** Digest named by a `blobs/sha256/<hex>` path, if the path has that form. */
function digestFromPath(path: string): Digest | undefined {
  const m = /^(?:\.\/)?blobs\/(sha256|sha512)\/([a-f0-9]+)$/.exec(path);
  const d = m ? `${m[1]}:${m[2]}` : undefined;
  return d !== undefined && isDigest(d) ? d : undefined;
}

async function sniffCompression(files: FileSource, path: string): Promise<'none' | 'gzip' | 'zstd'> {
  const stream = await files.open(path);
  const head: Buffer = await new Promise((resolve, reject) => {
    let got = Buffer.alloc(0);
    stream.on('data', (c: Buffer) => {
      got = Buffer.concat([got, c]);
      if (got.length >= 4) {
        stream.destroy();
        resolve(got);
      }
    });
    stream.on('end', () => resolve(got));
    stream.on('error', reject);
  });
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip';
  if (head.length >= 4 && head.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
  return 'none';
}

/** Digest and size of a file: what the source already knows (HashedFiles), else one pass. */
async function hashFile(files: FileSource, path: string): Promise<{ digest: Digest; size: number }> {
  const known = isHashedFiles(files) ? files.hashed(path) : undefined;
  if (known !== undefined) return known;
  const d = new Digester();
  for await (const chunk of await files.open(path)) d.update(chunk as Buffer);
  return { digest: d.digest(), size: d.size };
}

/** Finds, in an embedded OCI layout, the image manifest whose config is `configDigest`. */
async function findOciManifest(files: FileSource, configDigest: Digest): Promise<Image | undefined> {
  const index = await readLayoutIndex(files);
  const visit = async (ds: Descriptor[]): Promise<Image | undefined> => {
    for (const d of ds) {
      if (!(await files.exists(blobPath(d)))) continue;
      const a = await loadArtifact(files, d);
      if (a.kind === 'image') {
        if (a.manifest.value.config.digest === configDigest) return a;
      } else if (isIndex(a.manifest.mediaType)) {
        const hit = await visit(a.manifest.value.manifests);
        if (hit) return hit;
      }
    }
    return undefined;
  };
  return visit(index.manifests);
}

export async function readDockerArchive(files: FileSource, ref?: DockerReference): Promise<Image> {
  if (!(await files.exists('manifest.json'))) {
    if (await files.exists('oci-layout')) {
      throw new DistillError(
        'ARCHIVE_INVALID',
        `${files.description} has no manifest.json but is an OCI layout; read it with oci-archive: instead`,
      );
    }
    throw new DistillError(
      'ARCHIVE_INVALID',
      `${files.description} is not a docker archive (no manifest.json)`,
    );
  }
  const entry = selectEntry(
    readManifestJson(
      await readDocument(files, 'manifest.json', 'archiveManifest', `${files.description}: manifest.json`),
      files.description,
    ),
    ref,
    files.description,
  );
  const configBytes = await readDocument(
    files,
    entry.Config,
    'config',
    `${files.description}: ${entry.Config}`,
  );
  const configDigest =
    digestFromPath(entry.Config) ??
    (isHashedFiles(files) ? files.hashed(entry.Config)?.digest : undefined) ??
    digestOf(configBytes);

  if (await files.exists('index.json')) {
    const image = await findOciManifest(files, configDigest);
    if (image) return image;
  }

  // Classic format: synthesize an OCI manifest from the config and layer files.
  const layers: Descriptor[] = [];
  for (const path of entry.Layers) {
    if (!(await files.exists(path))) {
      throw new DistillError(
        'BLOB_MISSING',
        `${files.description} lacks the layer file ${path} that manifest.json names`,
      );
    }
    const { digest, size } = await hashFile(files, path);
    layers.push({ mediaType: layerMediaType(await sniffCompression(files, path)), digest, size });
  }
  const configDescriptor: Descriptor = {
    mediaType: MediaType.OciConfig,
    digest: configDigest,
    size: configBytes.length,
  };
  const config = parseConfig(
    configBytes,
    configDescriptor,
    layers.length,
    `config ${entry.Config} in ${files.description}`,
  );
  const manifestValue: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: configDescriptor,
    layers,
  };
  const manifest = rawJsonFromValue(manifestValue, MediaType.OciManifest);
  const pathOf = new Map(layers.map((l, i) => [l.digest, entry.Layers[i]!]));
  return assembleImage(manifest, config, (d) => openVerified(files, pathOf.get(d.digest)!, d, 'layer'));
}

/** Fills a tar with a docker-archive (manifest.json plus the OCI layout) for one image. */
export async function packDockerArchive(
  pack: Pack,
  image: Image,
  repoTags: string[],
  progress: TransferProgress,
): Promise<void> {
  const entry: ArchiveEntry = {
    Config: blobPath(image.manifest.value.config),
    RepoTags: repoTags,
    Layers: image.layers.map((l) => blobPath(l.descriptor)),
  };
  const manifestJson = Buffer.from(JSON.stringify([entry]));
  await packEntry(pack, { name: 'manifest.json', size: manifestJson.length }, manifestJson);
  const tag = repoTags[0];
  const root = descriptorOf(
    image.manifest,
    tag !== undefined
      ? { annotations: { 'io.containerd.image.name': tag, [REF_NAME]: tag.slice(tag.lastIndexOf(':') + 1) } }
      : {},
  );
  await packLayout(pack, image as Artifact, mergeIndex(undefined, root, undefined), progress);
}

export function requireSingleImage(artifact: Artifact, medium: string): Image {
  if (artifact.kind === 'image') return artifact;
  throw new DistillError(
    'PLATFORM_NOT_FOUND',
    `${medium} holds one platform's image, and the source is a multi-platform index; choose one with --platform (e.g. --platform linux/amd64)`,
  );
}

export async function writeDockerArchive(
  file: string,
  ref: DockerReference | undefined,
  artifact: Artifact,
  progress: TransferProgress = {},
): Promise<Descriptor> {
  const image = requireSingleImage(artifact, 'docker-archive');
  await writeTarFile(file, (pack) =>
    packDockerArchive(pack, image, ref ? [familiarName(ref)] : [], progress),
  );
  return descriptorOf(image.manifest);
}
