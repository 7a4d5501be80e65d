import { DistillError } from '../../errors.js';
import { selectPlatform } from '../../media/copy.js';
import type { Digest } from '../../oci/digest.js';
import type { Image } from '../../oci/image.js';
import type { AppPlan } from '../../plan/app.js';
import { debianToOci } from '../../plan/base.js';
import type { Lockfile } from '../../plan/lockfile.js';
import { excludedPath, variantSpec } from '../../plan/variants.js';
import type { RecordValues } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import { buildBaseArtifact } from '../base/build.js';
import { canonicalPath } from '../base/debfiles.js';
import { type DebLicenses, debLicenses, lockedContents } from '../base/licenses.js';
import {
  type BaseOs,
  baseOsKey,
  cachedBaseOs,
  type ImageRecord,
  loadStoredImage,
  rememberBaseOs,
  storeImage,
} from './base-os.js';
import { checkBaseEntries } from './checks.js';
import type { AppBuildDeps } from './deps.js';
import { debianPackageCandidates, librariesOf } from './native.js';

/**
 * The OS part of an app image, per architecture: distill's base built from the plan's lock
 * (without Node; remembered as images in the store), or the --base image the plan pinned; and
 * what the native checks need to know of it (its shared libraries, its libc).
 */
export interface BaseLibc {
  family: 'glibc' | 'musl' | 'none';
  version: string | null;
}

export interface AppBase {
  images: Map<string, Image>;
  /** soname -> path of the shared libraries in the base, per Debian arch. */
  libraries: Map<string, Map<string, string>>;
  /** What the copyright files of distill's base declare, per Debian arch (build/base/licenses.ts). */
  licenses?: Map<string, DebLicenses>;
  /** The libc of a --base image, per Debian arch, as its files show it. */
  libc?: Map<string, BaseLibc>;
  /** The glibc version (2.41) of the base for an arch, when known. */
  glibc(arch: string): string | undefined;
  /** A Debian package that ships a soname, for the native check's advice. */
  suggest?(arch: string): (soname: string) => Promise<string | undefined>;
}

type BaseFilesRecord = RecordValues['base-files'];

/**
 * The shared libraries, the libc and the unsafe layer entries of a --base image, read from its
 * merged filesystem (the inspect library streams its layers once for all three; nothing is
 * unpacked), remembered by manifest digest: a warm build reads no layer of the base.
 */
async function baseFiles(store: Store, image: Image): Promise<BaseFilesRecord> {
  const records = store.record('base-files');
  const hit = await records.get({ manifest: image.manifest.digest });
  if (hit) return hit;
  const { inspectImageTree } = await import('../../inspect/index.js');
  const { facts, tree } = await inspectImageTree(image);
  const libraries = [...librariesOf(tree.files())];
  const { libc } = facts;
  const rec: BaseFilesRecord = {
    libraries,
    libc: { family: libc.family, version: libc.version },
    unsafe: tree.unsafePaths.map(({ layer, path, kind, target }) => ({ layer, path, kind, target })),
    unsafeOmitted: tree.unsafeOmitted,
  };
  await records.put({ manifest: image.manifest.digest }, rec);
  return rec;
}

/** glibc version of a locked libc6 (2.41-12+deb13u4 -> 2.41). */
function glibcOf(lock: Lockfile, arch: string): string | undefined {
  const libc = lock.architectures[arch]?.find((p) => p.name === 'libc6');
  return libc ? /^(\d+\.\d+)/.exec(libc.version)?.[1] : undefined;
}

/** The --base image of each arch, as the plan pinned it, and its libraries and libc. */
async function imageBase(
  ref: string,
  manifests: Record<string, Digest>,
  deps: AppBuildDeps,
): Promise<AppBase> {
  deps.step?.(`reading the base ${ref}`);
  const art = await deps.sources.openBase(ref);
  const images = new Map<string, Image>();
  const libraries = new Map<string, Map<string, string>>();
  const libc = new Map<string, BaseLibc>();
  for (const arch of Object.keys(manifests)) {
    const sel = await selectPlatform(art, debianToOci(arch));
    if (sel.kind !== 'image')
      throw new DistillError('PLATFORM_NOT_FOUND', `${ref} has no linux/${arch} image`);
    if (sel.manifest.digest !== manifests[arch]) {
      throw new DistillError(
        'PLAN_INVALID',
        `${ref} changed since the plan was made (linux/${arch} was ${manifests[arch]}, is now ${sel.manifest.digest}); plan the build again`,
      );
    }
    images.set(arch, sel);
    const files = await baseFiles(deps.store, sel);
    checkBaseEntries(`${ref} (linux/${arch})`, files);
    libraries.set(arch, new Map(files.libraries));
    libc.set(arch, files.libc);
  }
  return { images, libraries, libc, glibc: (arch: string) => libc.get(arch)?.version ?? undefined };
}

/** distill's base images from the plan's lock: remembered in the store, built when missing. */
async function debianImages(plan: AppPlan & { base: { kind: 'debian' } }, deps: AppBuildDeps) {
  const { store } = deps;
  const { lock, config } = plan.base;
  const images = new Map<string, Image>();
  const parts = baseOsKey(plan);
  const records = store.record('base-image');
  const known = await records.get(parts);
  for (const arch of config.archs) {
    const rec = known?.[arch];
    const img = rec ? await loadStoredImage(store, rec) : undefined;
    if (img) images.set(arch, img);
  }
  if (images.size === config.archs.length) return images;
  const art = await buildBaseArtifact(
    lock,
    config,
    {
      store,
      fetchDeb: (p) => deps.sources.fetchDeb(p),
      ...(deps.step && { step: deps.step }),
      ...(deps.warn && { warn: deps.warn }),
    },
    {
      sourceDateEpoch: plan.sourceDateEpoch,
      withoutNode: true,
      ...(plan.layerCompression && { compression: plan.layerCompression }),
    },
  );
  const list =
    art.kind === 'image' ? [art] : await Promise.all(art.manifest.value.manifests.map((d) => art.child(d)));
  const recs: Record<string, ImageRecord> = {};
  for (const [i, arch] of config.archs.entries()) {
    const img = list[i];
    if (img?.kind !== 'image') throw new DistillError('INTERNAL', `no base image for ${arch}`);
    images.set(arch, img);
    recs[arch] = await storeImage(store, img);
  }
  await records.put(parts, recs);
  return images;
}

/**
 * The shared libraries the base has, from the packages' file lists (cached per .deb), and the
 * licences their copyright files declare (build/base/licenses.ts), in one pass over the packages.
 */
async function debianFacts(lock: Lockfile, archs: readonly string[], deps: AppBuildDeps) {
  const libraries = new Map<string, Map<string, string>>();
  const licenses = new Map<string, DebLicenses>();
  // What the variant leaves out of its packages (the slim OS's unused glibc libraries) is not
  // in the image: the native check must not count it.
  const spec = variantSpec(lock.request.variant);
  const kept = (e: { path: string }) => !excludedPath(spec, canonicalPath(e.path));
  for (const arch of archs) {
    const packages = await lockedContents(deps.store, lock, arch, (p) => deps.sources.fetchDeb(p));
    const libs = new Map<string, string>();
    for (const { contents } of packages) {
      for (const [soname, path] of librariesOf(contents.entries.filter(kept))) libs.set(soname, path);
    }
    libraries.set(arch, libs);
    licenses.set(arch, await debLicenses(deps.store, packages));
  }
  return { libraries, licenses };
}

export async function appBase(plan: AppPlan, deps: AppBuildDeps): Promise<AppBase> {
  const { base } = plan;
  if (base.kind === 'image') return imageBase(base.ref, base.manifests, deps);
  const { lock, config } = base;
  const suggest = (arch: string) => async (soname: string) => {
    const candidates = debianPackageCandidates(soname);
    for (const suite of config.suites) {
      const found = await deps.sources.packagesNamed(suite, arch, new Set(candidates)).catch(() => undefined);
      const names = new Set(found?.packages.map((p) => p.name) ?? []);
      const hit = candidates.find((c) => names.has(c));
      if (hit) return hit;
    }
    return undefined;
  };
  const debian = { ...plan, base };
  const parts = baseOsKey(debian);
  let os: BaseOs | undefined = await cachedBaseOs(deps.store, parts, config.archs);
  if (os === undefined) {
    const images = await debianImages(debian, deps);
    os = { images, ...(await debianFacts(lock, config.archs, deps)) };
    await rememberBaseOs(deps.store, parts, os);
  }
  return {
    images: os.images,
    libraries: os.libraries,
    licenses: os.licenses,
    glibc: (arch) => glibcOf(lock, arch),
    suggest,
  };
}
