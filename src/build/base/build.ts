import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { parseDeb822Single } from '../../debian/deb822.js';
import { statusDFiles } from '../../debian/status.js';
import { checkAborted, DistillError } from '../../errors.js';
import type { LayerCompression } from '../../layers/compression.js';
import { normalizeImagePath } from '../../layers/entries.js';
import type { Digest } from '../../oci/digest.js';
import type { Artifact, Image, Layer } from '../../oci/image.js';
import {
  appendLayers,
  buildIndex,
  emptyImage,
  setContainerConfig,
  setImageConfig,
} from '../../oci/mutate.js';
import type { ContainerConfig } from '../../oci/types.js';
import { type BaseConfig, debianToNodeArch, debianToOci } from '../../plan/base.js';
import { nodeLabels } from '../../plan/labels.js';
import {
  BUSYBOX_DIR,
  CA_BUNDLE_PATH,
  layoutEnv,
  NONROOT_HOME,
  NONROOT_USER,
  type NodeBlob,
  nodeEntrypoint,
} from '../../plan/layout.js';
import type { LockedPackage, Lockfile } from '../../plan/lockfile.js';
import { CA_PACKAGE, excludedPath, variantSpec } from '../../plan/variants.js';
import type { Store } from '../../store/store.js';
import { bytesEntry, type CacheableEntry, cachedLayer } from '../layercache.js';
import { nodeLayer } from '../node-layer.js';
import { busyboxApplets, busyboxEntries } from './busybox.js';
import { caBundle } from './cacerts.js';
import {
  canonicalPath,
  type DebContents,
  openStored,
  type StoredEntry,
  toLayerEntries,
  unpackDeb,
} from './debfiles.js';
import { namedLicences } from './licences.js';
import { SYNTHETIC_PATHS, syntheticEntries } from './synthetic.js';

/**
 * `distill base`, the building half: a Lockfile (plus the config's non-package fields) becomes
 * one image per architecture, or an index of them. Layers, in order: the OS (packages of the
 * variant, synthetic files, the CA bundle, status.d), extra packages, the debug toolbox, then
 * Node for the nodejs variants (last, so that `distill build` can take the base without it).
 * Every layer is cached by its contents; nothing here looks at an index or the clock.
 */
export interface BaseBuildSources {
  store: Store;
  fetchDeb(p: LockedPackage): Promise<{ digest: Digest; size: number }>;
  /** bin/node and LICENSE of a Node release (blobs in the store), for the nodejs variants. */
  nodeRuntime?(version: string, arch: 'x64' | 'arm64'): Promise<{ binary: NodeBlob; license: NodeBlob }>;
  step?(message: string): void;
  warn?(message: string): void;
  /** Stops the build between packages and layers (ABORTED). */
  signal?: AbortSignal;
}

export interface BaseBuildOptions {
  sourceDateEpoch: number;
  /** Leave Node out (the base of `distill build`). */
  withoutNode?: boolean;
  /** Strip bin/node (build/node-layer.ts); absent: whole. */
  strip?: boolean;
  /** How the layers are compressed (default gzip 6). */
  compression?: LayerCompression;
  /** Directory that relative `from:` paths of extra files are read from. */
  baseDir?: string;
}

/** Postinst scripts whose only work is done elsewhere (ldconfig triggers need no cache here). */
const HANDLED_POSTINST = new Set([CA_PACKAGE]);

function storedToCacheable(store: Store, entries: StoredEntry[]): CacheableEntry[] {
  const layerEntries = toLayerEntries(store, entries);
  return layerEntries.map((entry, i) => ({
    entry,
    ...(entries[i]!.digest !== undefined && { contentDigest: entries[i]!.digest }),
  }));
}

/**
 * Merges packages' entries in package order: directories shared by several packages appear
 * once, top-level merged-/usr names stay the links base-files makes, synthetic files win over
 * package files at the same path, and a file two packages both ship is kept from the first,
 * with a warning (dpkg would refuse such a pair unless one Replaces the other).
 */
function mergePackages(
  store: Store,
  pkgs: { name: string; contents: DebContents }[],
  warn: (m: string) => void,
  excluded: (path: string) => boolean = () => false,
): CacheableEntry[] {
  const seen = new Map<string, string>();
  const out: CacheableEntry[] = [];
  for (const { name, contents } of pkgs) {
    const kept: StoredEntry[] = [];
    for (const e of contents.entries) {
      const path = canonicalPath(e.path);
      if (SYNTHETIC_PATHS.has(path) || excluded(path)) continue;
      if (e.type === 'dir' && ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'].includes(path)) continue;
      const owner = seen.get(path);
      if (owner !== undefined) {
        if (e.type !== 'dir') warn(`${name} and ${owner} both ship /${path}; keeping ${owner}'s`);
        continue;
      }
      seen.set(path, name);
      kept.push(e);
    }
    out.push(...storedToCacheable(store, kept));
  }
  return out;
}

function statusEntries(pkgs: { contents: DebContents }[]): CacheableEntry[] {
  const out: CacheableEntry[] = [];
  for (const { contents } of pkgs) {
    const control = parseDeb822Single(contents.controlText);
    for (const f of statusDFiles({
      control,
      ...(contents.md5sumsText !== undefined && { md5sums: contents.md5sumsText }),
    })) {
      out.push(bytesEntry(f.path, f.content, f.mode));
    }
  }
  return out;
}

async function extraFileEntries(config: BaseConfig, baseDir: string): Promise<CacheableEntry[]> {
  const out: CacheableEntry[] = [];
  for (const [i, f] of config.files.entries()) {
    let bytes: Buffer;
    if (f.content !== undefined) bytes = Buffer.from(f.content);
    else if (f.from !== undefined) {
      const p = isAbsolute(f.from) ? f.from : resolvePath(baseDir, f.from);
      try {
        bytes = await readFile(p);
      } catch (err) {
        throw new DistillError('NOT_FOUND', `files[${i}]: cannot read ${p} for ${f.path}`, { cause: err });
      }
    } else {
      throw new DistillError('CONFIG_FILE_INVALID', `files[${i}] (${f.path}) needs "content" or "from"`);
    }
    out.push(bytesEntry(normalizeImagePath(f.path), bytes, f.mode ?? 0o644));
  }
  return out;
}

/** Node's layer, started before the packages: it depends on none of them (see buildArch). */
function startNodeLayer(
  lock: Lockfile,
  arch: string,
  sources: BaseBuildSources,
  opts: BaseBuildOptions,
): Promise<Layer> {
  const node = lock.node;
  const nodeRuntime = sources.nodeRuntime;
  if (!node || !nodeRuntime) {
    throw new DistillError(
      'LOCKFILE_INVALID',
      `the lockfile names no Node version for ${lock.request.variant}`,
    );
  }
  sources.step?.(`${arch}: Node ${node.version}`);
  const layer = nodeRuntime(node.version, debianToNodeArch(arch)).then((rt) =>
    nodeLayer(sources.store, rt, {
      strip: opts.strip === true,
      sourceDateEpoch: opts.sourceDateEpoch,
      release: `Node ${node.version} for linux/${debianToNodeArch(arch)}`,
      ...(opts.compression && { compression: opts.compression }),
    }),
  );
  layer.catch(() => {}); // awaited by the caller; a failure is reported there
  return layer;
}

/**
 * Every locked package fetched and unpacked (file lists in the store). Every fetch is let finish
 * before a failure is reported, so that nothing is still writing into the store when the command
 * returns.
 */
async function unpackLocked(
  locked: readonly LockedPackage[],
  sources: BaseBuildSources,
): Promise<Map<string, DebContents>> {
  const unpacked = new Map<string, DebContents>();
  const settled = await Promise.allSettled(
    locked.map(async (p) => {
      checkAborted(sources.signal);
      const deb = await sources.fetchDeb(p);
      unpacked.set(
        p.name,
        await unpackDeb(sources.store, deb, `${p.name}_${p.version}_${p.architecture}.deb`),
      );
    }),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return unpacked;
}

/** The OS layer: the variant's packages, the synthetic files, the CA bundle, status.d. */
async function osEntries(
  store: Store,
  lock: Lockfile,
  base: { name: string; contents: DebContents }[],
  ca: DebContents,
  warn: (m: string) => void,
  licences?: ReadonlySet<string>,
): Promise<CacheableEntry[]> {
  const suite = lock.suites[0]!;
  const spec = variantSpec(lock.request.variant);
  return [
    ...mergePackages(store, base, warn, (p) => excludedPath(spec, p, licences)),
    ...syntheticEntries({
      versionId: (suite.version ?? '').split('.')[0] ?? '',
      codename: suite.codename,
    }).map(
      (entry): CacheableEntry =>
        entry.type === 'file' && entry.source.kind === 'bytes'
          ? bytesEntry(entry.path, entry.source.bytes, entry.mode, {
              uid: entry.uid ?? 0,
              gid: entry.gid ?? 0,
            })
          : { entry },
    ),
    bytesEntry(CA_BUNDLE_PATH, await caBundle(ca.entries, (e) => openStored(store, e))),
    ...statusEntries(base),
  ];
}

/** The debug layer: busybox and a link per applet, and its status.d entry. */
async function debugEntries(store: Store, debug: DebContents): Promise<CacheableEntry[]> {
  const bin = debug.entries.find((e) => e.type === 'file' && /(^|\/)bin\/busybox$/.test(e.path));
  if (!bin?.digest || bin.size === undefined) {
    throw new DistillError('DEB_INVALID', 'busybox-static has no bin/busybox');
  }
  const digest = bin.digest;
  const applets = await busyboxApplets(await openStored(store, bin));
  const entries: CacheableEntry[] = busyboxEntries(
    { size: bin.size, open: () => openStored(store, bin) },
    applets,
  ).map((entry) => ({ entry, ...(entry.type === 'file' && { contentDigest: digest }) }));
  return [...entries, ...statusEntries([{ contents: debug }])];
}

function warnPostinst(extras: { name: string; contents: DebContents }[], warn: (m: string) => void): void {
  for (const p of extras) {
    if (p.contents.postinst !== undefined && !HANDLED_POSTINST.has(p.name)) {
      warn(
        `${p.name}'s postinst was not run (maintainer scripts never run in distill images); check that the image does not need what it does`,
      );
    }
  }
}

/** Env, entrypoint, cmd, user and working directory: the layout's, unless the config sets them. */
function baseContainerConfig(
  lock: Lockfile,
  config: BaseConfig,
  withNode: boolean,
  strip: boolean,
): Partial<ContainerConfig> {
  const env: Record<string, string> = {
    ...layoutEnv({
      debug: lock.request.debug,
      ...(withNode && lock.node && { nodeVersion: lock.node.version }),
    }),
    ...config.env,
  };
  const patch: Partial<ContainerConfig> = {
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
  };
  const entrypoint =
    config.entrypoint ??
    (withNode ? nodeEntrypoint() : lock.request.debug ? [`${BUSYBOX_DIR}/sh`] : undefined);
  if (entrypoint) patch.Entrypoint = entrypoint;
  if (config.cmd) patch.Cmd = config.cmd;
  const user = config.user ?? (config.nonroot ? NONROOT_USER : undefined);
  if (user !== undefined) patch.User = user;
  patch.WorkingDir = config.workdir ?? (config.nonroot ? NONROOT_HOME : '/');
  if (withNode && strip) patch.Labels = nodeLabels(true);
  return patch;
}

async function buildArch(
  lock: Lockfile,
  config: BaseConfig,
  arch: string,
  sources: BaseBuildSources,
  opts: BaseBuildOptions,
): Promise<Image> {
  const { store } = sources;
  const warn = sources.warn ?? (() => {});
  const locked = [...(lock.architectures[arch] ?? [])].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
  );
  const spec = variantSpec(lock.request.variant);
  const epoch = opts.sourceDateEpoch;
  const withNode = spec.nodeMajor !== undefined && !opts.withoutNode;
  // Node (a 50 MB download and a 126 MB layer to compress) does not depend on any package:
  // it is fetched and layered while the packages are, on the other core.
  const nodeLayer = withNode ? startNodeLayer(lock, arch, sources, opts) : undefined;
  try {
    sources.step?.(`${arch}: fetching ${locked.length} packages`);
    const unpacked = await unpackLocked(locked, sources);
    const byRole = (role: LockedPackage['role']) =>
      locked.filter((p) => p.role === role).map((p) => ({ name: p.name, contents: unpacked.get(p.name)! }));
    const base = byRole('base');
    const extras = byRole('extra');

    sources.step?.(`${arch}: layering`);
    const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
    let image = setImageConfig(emptyImage(debianToOci(arch)), { created });
    const add = async (entries: CacheableEntry[], createdBy: string) => {
      checkAborted(sources.signal);
      const layer = await cachedLayer(store, entries, {
        sourceDateEpoch: epoch,
        ...(opts.compression && { compression: opts.compression }),
      });
      image = appendLayers(image, { layer, history: { created, created_by: createdBy } });
    };
    // The common licences the copyright files of every package in the image name (slim OS).
    const licences = spec.namedLicencesOnly ? await namedLicences(store, [...base, ...extras]) : undefined;
    await add(
      await osEntries(store, lock, base, unpacked.get(CA_PACKAGE)!, warn, licences),
      `distill base ${spec.name}: ${base.map((p) => p.name).join(' ')} + CA bundle + users`,
    );
    if (extras.length > 0) {
      warnPostinst(extras, warn);
      await add(
        [...mergePackages(store, extras, warn, (p) => excludedPath(spec, p)), ...statusEntries(extras)],
        `distill base: --package ${lock.request.packages.join(' ')}`,
      );
    }
    if (config.files.length > 0) {
      await add(await extraFileEntries(config, opts.baseDir ?? '.'), 'distill base: files');
    }
    const debug = unpacked.get('busybox-static');
    if (lock.request.debug && debug)
      await add(await debugEntries(store, debug), 'distill base --debug: busybox');
    if (nodeLayer && lock.node) {
      image = appendLayers(image, {
        layer: await nodeLayer,
        history: { created, created_by: `distill base: Node.js ${lock.node.version}` },
      });
    }
    return setContainerConfig(image, baseContainerConfig(lock, config, withNode, opts.strip === true));
  } catch (err) {
    // Let the Node download finish or fail before reporting, so nothing writes into the store
    // after the command has returned.
    await nodeLayer?.catch(() => {});
    throw err;
  }
}

/** One image per architecture of the config, or an index of them. */
export async function buildBaseArtifact(
  lock: Lockfile,
  config: BaseConfig,
  sources: BaseBuildSources,
  opts: BaseBuildOptions,
): Promise<Artifact> {
  const images: Image[] = [];
  for (const arch of config.archs) images.push(await buildArch(lock, config, arch, sources, opts));
  if (images.length === 1) return images[0]!;
  return buildIndex(images);
}
