import { DistillError } from '../errors.js';
import {
  type Artifact,
  descriptorOf,
  type Image,
  type ImageIndex,
  type Layer,
  rawJsonFromValue,
} from './image.js';
import { layerCompression, layerMediaType, MediaType } from './mediatypes.js';
import { formatPlatform, normalizePlatform } from './platform.js';
import type {
  Annotations,
  ContainerConfig,
  Descriptor,
  HistoryEntry,
  ImageConfigJson,
  IndexJson,
  ManifestJson,
  Platform,
} from './types.js';

/**
 * Pure transforms: each returns a new Image or ImageIndex and leaves its input alone
 * (go-containerregistry's `mutate`). Layers are shared, never copied.
 */

export type ManifestFamily = 'oci' | 'docker';

/** A scratch image for a platform: no layers, empty config. */
export function emptyImage(platform: Platform, family: ManifestFamily = 'oci'): Image {
  const p = normalizePlatform(platform);
  const config: ImageConfigJson = {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant !== undefined && { variant: p.variant }),
    config: {},
    rootfs: { type: 'layers', diff_ids: [] },
    history: [],
  };
  return withConfig(
    {
      kind: 'image',
      manifest: rawJsonFromValue(
        {
          schemaVersion: 2,
          mediaType: family === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest,
          config: { mediaType: MediaType.OciConfig, digest: 'sha256:0', size: 0 },
          layers: [],
        } as ManifestJson,
        family === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest,
      ),
      config: rawJsonFromValue(config, MediaType.OciConfig),
      layers: [],
    },
    config,
    [],
  );
}

/** Re-serializes config and manifest around the given config value and layers. */
function withConfig(base: Image, config: ImageConfigJson, layers: readonly Layer[]): Image {
  const family = familyOf(base);
  const configRaw = rawJsonFromValue(config, family === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig);
  const m = base.manifest.value;
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: base.manifest.mediaType,
    ...(m.artifactType !== undefined && { artifactType: m.artifactType }),
    config: descriptorOf(configRaw),
    layers: layers.map((l) => l.descriptor),
    ...(m.subject !== undefined && { subject: m.subject }),
    ...(m.annotations !== undefined && { annotations: m.annotations }),
  };
  return {
    kind: 'image',
    manifest: rawJsonFromValue(manifest, base.manifest.mediaType),
    config: configRaw,
    layers,
  };
}

function familyOf(image: Image): ManifestFamily {
  return image.manifest.mediaType === MediaType.DockerManifest ? 'docker' : 'oci';
}

export interface Addendum {
  layer: Layer;
  history?: HistoryEntry;
}

/** Appends layers, each with a history entry (`created_by` and the image's created time by default). */
export function appendLayers(image: Image, ...addenda: Addendum[]): Image {
  const old = image.config.value;
  const history = [...(old.history ?? [])];
  for (const a of addenda) {
    history.push({ ...(old.created !== undefined && { created: old.created }), ...a.history });
  }
  const config: ImageConfigJson = {
    ...old,
    rootfs: { type: 'layers', diff_ids: [...old.rootfs.diff_ids, ...addenda.map((a) => a.layer.diffId)] },
    history,
  };
  return withConfig(image, config, [...image.layers, ...addenda.map((a) => a.layer)]);
}

/** Merges fields into the container config (`config.config`): Env, Cmd, Entrypoint, User, ... */
export function setContainerConfig(image: Image, patch: Partial<ContainerConfig>): Image {
  const old = image.config.value;
  return withConfig(image, { ...old, config: { ...(old.config ?? {}), ...patch } }, image.layers);
}

/** Replaces top-level config fields (created, author, history, ...); rootfs stays as it is. */
export function setImageConfig(image: Image, patch: Partial<Omit<ImageConfigJson, 'rootfs'>>): Image {
  const old = image.config.value;
  return withConfig(image, { ...old, ...patch, rootfs: old.rootfs }, image.layers);
}

/** Sets (or with `undefined` values, removes) manifest annotations. */
export function setAnnotations(image: Image, annotations: Record<string, string | undefined>): Image {
  const merged: Annotations = { ...(image.manifest.value.annotations ?? {}) };
  for (const [k, v] of Object.entries(annotations)) {
    if (v === undefined) delete merged[k];
    else merged[k] = v;
  }
  const m: ManifestJson = { ...image.manifest.value };
  if (Object.keys(merged).length > 0) m.annotations = merged;
  else delete m.annotations;
  return { ...image, manifest: rawJsonFromValue(m, image.manifest.mediaType) };
}

/** The platform an image's config declares. */
export function imagePlatform(image: Image): Platform {
  const c = image.config.value;
  return normalizePlatform({
    os: c.os,
    architecture: c.architecture,
    ...(c.variant !== undefined && { variant: c.variant }),
    ...(c['os.version'] !== undefined && { 'os.version': c['os.version'] }),
  });
}

/** An index over per-platform images; two images for the same platform are an error. */
export function buildIndex(
  images: readonly Image[],
  opts: { annotations?: Annotations; family?: ManifestFamily } = {},
): ImageIndex {
  const seen = new Map<string, string>();
  const children = new Map<string, Image>();
  const manifests: Descriptor[] = images.map((image) => {
    const platform = imagePlatform(image);
    const key = formatPlatform(platform);
    if (seen.has(key)) {
      throw new DistillError('PLATFORM_INVALID', `two images for platform ${key} cannot go into one index`);
    }
    seen.set(key, image.manifest.digest);
    children.set(image.manifest.digest, image);
    const { 'os.features': _f, ...p } = platform;
    return descriptorOf(image.manifest, { platform: p });
  });
  const mediaType = opts.family === 'docker' ? MediaType.DockerManifestList : MediaType.OciIndex;
  const value: IndexJson = {
    schemaVersion: 2,
    mediaType,
    manifests,
    ...(opts.annotations !== undefined && { annotations: opts.annotations }),
  };
  return indexOf(value, mediaType, children);
}

function indexOf(value: IndexJson, mediaType: string, children: Map<string, Artifact>): ImageIndex {
  return {
    kind: 'index',
    manifest: rawJsonFromValue(value, mediaType),
    child: async (d) => {
      const c = children.get(d.digest);
      if (!c) throw new DistillError('BLOB_MISSING', `manifest ${d.digest} is not part of this index`);
      return c;
    },
  };
}

/**
 * Converts an image between the OCI and the Docker schema 2 media types (manifest, config and
 * layer types). Blobs are unchanged; the manifest digest changes. zstd layers have no Docker type.
 */
export function convertImage(image: Image, family: ManifestFamily): Image {
  if (familyOf(image) === family) return image;
  const layers: Layer[] = image.layers.map((l) => {
    const compression = layerCompression(l.descriptor.mediaType);
    if (compression === undefined) {
      throw new DistillError(
        'MEDIA_TYPE_UNSUPPORTED',
        `layer ${l.descriptor.digest} has media type ${l.descriptor.mediaType}, which has no ${family} equivalent`,
      );
    }
    if (family === 'docker' && compression === 'zstd') {
      throw new DistillError(
        'MEDIA_TYPE_UNSUPPORTED',
        `layer ${l.descriptor.digest} is zstd-compressed, which Docker schema 2 manifests cannot describe; keep the OCI format`,
      );
    }
    return { ...l, descriptor: { ...l.descriptor, mediaType: layerMediaType(compression, family) } };
  });
  const mediaType = family === 'oci' ? MediaType.OciManifest : MediaType.DockerManifest;
  // The config's bytes (and so its digest) stay as they are; only the descriptors' types change.
  const config = {
    ...image.config,
    mediaType: family === 'oci' ? MediaType.OciConfig : MediaType.DockerConfig,
  };
  const m = image.manifest.value;
  const manifest: ManifestJson = {
    ...m,
    mediaType,
    config: { ...m.config, mediaType: config.mediaType },
    layers: layers.map((l) => l.descriptor),
  };
  return { kind: 'image', manifest: rawJsonFromValue(manifest, mediaType), config, layers };
}

/** Converts an index and every image in it. */
export async function convertArtifact(artifact: Artifact, family: ManifestFamily): Promise<Artifact> {
  if (artifact.kind === 'image') return convertImage(artifact, family);
  const children = new Map<string, Artifact>();
  const manifests: Descriptor[] = [];
  for (const d of artifact.manifest.value.manifests) {
    const converted = await convertArtifact(await artifact.child(d), family);
    children.set(converted.manifest.digest, converted);
    manifests.push({ ...d, ...descriptorOf(converted.manifest) });
  }
  const mediaType = family === 'oci' ? MediaType.OciIndex : MediaType.DockerManifestList;
  return indexOf({ ...artifact.manifest.value, mediaType, manifests }, mediaType, children);
}
