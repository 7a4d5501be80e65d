import { DistillError } from '../../errors.js';
import { compressionKey } from '../../layers/compression.js';
import { type Digest, digestOf } from '../../oci/digest.js';
import { descriptorOf, type Image, loadManifest } from '../../oci/image.js';
import type { AppPlan } from '../../plan/app.js';
import { variantSpec } from '../../plan/variants.js';
import type { BaseOsImage, KeyParts } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import type { DebLicenses } from '../base/licenses.js';
import { mountable, storeFile } from '../layercache.js';

/**
 * distill's base images of an app build as the store keeps them: by manifest in the store
 * (`base-image`, local), and with their shared libraries as one `base-os` record, which a
 * remote cache shares (decision 0022). Both are keyed by the lock, the base config, the epoch
 * and the layers' compression. The libraries and the OS layers' keys are computed from the
 * `.deb`s; a `base-os` hit needs neither, so a fresh runner with a cache hit fetches no `.deb`.
 */

/** The images are a function of the lock, the config, the epoch and the layers' compression. */
export function baseOsKey(plan: AppPlan & { base: { kind: 'debian' } }): { base: Digest } {
  const { lock, config } = plan.base;
  const layers = compressionKey(plan.layerCompression);
  // The variant's spec holds what the slim OS leaves out: a change to it is a new OS.
  const variant = variantSpec(lock.request.variant);
  return {
    base: digestOf(
      JSON.stringify({
        lock,
        config,
        sourceDateEpoch: plan.sourceDateEpoch,
        layers,
        variant,
      }),
    ),
  };
}

/** What the store keeps of a base image: its manifest (the config and layers are blobs beside it). */
export interface ImageRecord {
  manifest: { digest: Digest; mediaType: string; size: number };
}

export async function storeImage(store: Store, image: Image): Promise<ImageRecord> {
  await store.putBytes(image.config.bytes);
  await store.putBytes(image.manifest.bytes);
  return {
    manifest: {
      digest: image.manifest.digest,
      mediaType: image.manifest.mediaType,
      size: image.manifest.bytes.length,
    },
  };
}

export async function loadStoredImage(store: Store, rec: ImageRecord): Promise<Image | undefined> {
  if (!(await store.has(rec.manifest.digest))) return undefined;
  const bytes = await store.readBytes(rec.manifest.digest, rec.manifest.size);
  const art = await loadManifest(bytes, rec.manifest.mediaType, rec.manifest.digest, {
    where: 'the build cache',
    readConfig: (d) => store.readBytes(d.digest, d.size),
    openLayer: (d) => store.open(d.digest, d.size),
    child: () => {
      throw new DistillError('INTERNAL', 'a cached base image is not an index');
    },
  });
  if (art.kind !== 'image') return undefined;
  for (const l of art.layers) if (!(await store.has(l.descriptor.digest))) return undefined;
  // Layers read straight from the store can be hard-linked into a layout instead of copied.
  return { ...art, layers: art.layers.map((l) => ({ ...l, ...storeFile(store, l.descriptor.digest) })) };
}

export interface BaseOs {
  images: Map<string, Image>;
  /** soname -> path of the shared libraries in the base, per Debian arch. */
  libraries: Map<string, Map<string, string>>;
  /** The packages' declared licences, per Debian arch: what the SBOM lists on a hit too. */
  licenses: Map<string, DebLicenses>;
}

const blobsOf = (v: BaseOsImage) => [v.manifest, v.config, ...v.layers.map((l) => l.descriptor)];

/**
 * The base images and libraries of `parts`, when a `base-os` record is there (locally, else in
 * a remote cache, whose blobs are then in the store, verified by digest and the layers by
 * diff_id) for every arch, and each image in the store is the one the record describes.
 */
export async function cachedBaseOs(
  store: Store,
  parts: KeyParts,
  archs: readonly string[],
): Promise<BaseOs | undefined> {
  const present = async (v: BaseOsImage | undefined) => {
    // A record from before licences were kept (or a remote one without them) is a miss.
    if (v === undefined || !Array.isArray(v.licenses)) return false;
    for (const d of blobsOf(v)) if ((await store.size(d.digest)) !== d.size) return false;
    return true;
  };
  const records = store.record('base-os');
  const hit = await records.get(parts, {
    usable: async (value) => {
      for (const arch of archs) if (!(await present(value[arch]))) return false;
      return true;
    },
  });
  if (hit === undefined) return undefined;
  const os: BaseOs = { images: new Map(), libraries: new Map(), licenses: new Map() };
  for (const arch of archs) {
    const v = hit[arch];
    const img = v && (await loadStoredImage(store, { manifest: v.manifest }));
    if (v === undefined || img === undefined || !describes(img, v)) return undefined;
    os.images.set(arch, {
      ...img,
      layers: img.layers.map((l) => ({
        ...l,
        // The record's diff_id is the config's (checked above): computed by distill when the
        // layer was built, or checked as the blob came in from a remote cache.
        diffIdChecked: true,
        ...mountable(store, l.descriptor.digest),
      })),
    });
    os.libraries.set(arch, new Map(v.libraries));
    os.licenses.set(arch, v.licenses);
  }
  return os;
}

/** Whether the image is the record's: its config and layers, their diff_ids the record's. */
function describes(img: Image, v: BaseOsImage): boolean {
  const diffIds = img.config.value.rootfs.diff_ids;
  return (
    img.manifest.value.config.digest === v.config.digest &&
    img.layers.length === v.layers.length &&
    img.layers.every(
      (l, i) => l.descriptor.digest === v.layers[i]?.descriptor.digest && diffIds[i] === v.layers[i]?.diffId,
    )
  );
}

/** Records the images and libraries of `parts` (and, with a remote cache, shares them). */
export async function rememberBaseOs(store: Store, parts: KeyParts, os: BaseOs): Promise<void> {
  const value: Record<string, BaseOsImage> = {};
  for (const [arch, img] of os.images) {
    value[arch] = {
      manifest: descriptorOf(img.manifest),
      config: descriptorOf(img.config),
      layers: img.layers.map((l) => ({ descriptor: l.descriptor, diffId: l.diffId })),
      libraries: [...(os.libraries.get(arch) ?? [])],
      licenses: os.licenses.get(arch) ?? [],
    };
  }
  await store.record('base-os').put(parts, value);
}
