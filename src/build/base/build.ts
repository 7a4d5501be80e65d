import { readFile } from 'node:fs/promises';
import { isAbsolute, resolve as resolvePath } from 'node:path';
import { parseDeb822Single } from '../../debian/deb822.js';
import { statusDFiles } from '../../debian/status.js';
import { DistillError } from '../../errors.js';
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
import {
  BUSYBOX_DIR,
  CA_BUNDLE_PATH,
  layoutEnv,
  NONROOT_HOME,
  NONROOT_USER,
  nodeEntrypoint,
} from '../../plan/layout.js';
import type { LockedPackage, Lockfile } from '../../plan/lockfile.js';
import { CA_PACKAGE, variantSpec } from '../../plan/variants.js';
import type { Store } from '../../store/store.js';
import { bytesEntry, type CacheableEntry, cachedLayer } from '../layercache.js';
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
import { SYNTHETIC_PATHS, syntheticEntries } from './synthetic.js';

/**
 * `distill base`, the building half: a Lockfile (plus the config's non-package fields) becomes
 * one image per architecture, or an index of them. Layers, in order: the OS (packages of the
 * variant, synthetic files, the CA bundle, status.d), extra packages, the debug toolbox, then
 * Node for the nodejs variants (last, so that `distill build` can take the base without it).
 * Every layer is cached by its contents; nothing here looks at an index or the clock.
 */
export interface BuildSources {
  store: Store;
  fetchDeb(p: LockedPackage): Promise<{ digest: Digest; size: number }>;
  /** /nodejs/bin/node and /nodejs/LICENSE for a version and a Node architecture. */
  nodeEntries?(version: string, arch: 'x64' | 'arm64'): Promise<CacheableEntry[]>;
  step?(message: string): void;
  warn?(message: string): void;
}

export interface BaseBuildOptions {
  sourceDateEpoch: number;
  /** Leave Node out (the base of `distill build`). */
  withoutNode?: boolean;
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
  exclude: readonly string[] = [],
): CacheableEntry[] {
  const seen = new Map<string, string>();
  const out: CacheableEntry[] = [];
  const excluded = (path: string) => exclude.some((x) => path === x || path.startsWith(`${x}/`));
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

async function buildArch(
  lock: Lockfile,
  config: BaseConfig,
  arch: string,
  sources: BuildSources,
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
  let nodeLayer: Promise<Layer> | undefined;
  if (withNode) {
    const node = lock.node;
    const nodeEntries = sources.nodeEntries;
    if (!node || !nodeEntries) {
      throw new DistillError('LOCKFILE_INVALID', `the lockfile names no Node version for ${spec.name}`);
    }
    sources.step?.(`${arch}: Node ${node.version}`);
    nodeLayer = nodeEntries(node.version, debianToNodeArch(arch)).then((entries) =>
      cachedLayer(store, entries, { sourceDateEpoch: epoch }),
    );
    nodeLayer.catch(() => {}); // awaited below; a failure is reported there
  }
  try {
    sources.step?.(`${arch}: fetching ${locked.length} packages`);
    const unpacked = new Map<string, DebContents>();
    // Every fetch is let finish before a failure is reported, so that nothing is still writing
    // into the store when the command returns.
    const settled = await Promise.allSettled(
      locked.map(async (p) => {
        const deb = await sources.fetchDeb(p);
        unpacked.set(p.name, await unpackDeb(store, deb, `${p.name}_${p.version}_${p.architecture}.deb`));
      }),
    );
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    const byRole = (role: LockedPackage['role']) =>
      locked.filter((p) => p.role === role).map((p) => ({ name: p.name, contents: unpacked.get(p.name)! }));
    const base = byRole('base');
    const extras = byRole('extra');
    const caPkg = unpacked.get(CA_PACKAGE)!;

    sources.step?.(`${arch}: layering`);
    const suite = lock.suites[0]!;
    const osEntries: CacheableEntry[] = [
      ...mergePackages(store, base, warn, spec.exclude),
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
      bytesEntry(CA_BUNDLE_PATH, await caBundle(caPkg.entries, (e) => openStored(store, e))),
      ...statusEntries(base),
    ];
    const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, 'Z');
    let image = setImageConfig(emptyImage(debianToOci(arch)), { created });
    const add = async (entries: CacheableEntry[], createdBy: string) => {
      const layer = await cachedLayer(store, entries, { sourceDateEpoch: epoch });
      image = appendLayers(image, { layer, history: { created, created_by: createdBy } });
    };
    await add(
      osEntries,
      `distill base ${spec.name}: ${base.map((p) => p.name).join(' ')} + CA bundle + users`,
    );

    if (extras.length > 0) {
      for (const p of extras) {
        if (p.contents.postinst !== undefined && !HANDLED_POSTINST.has(p.name)) {
          warn(
            `${p.name}'s postinst was not run (maintainer scripts never run in distill images); check that the image does not need what it does`,
          );
        }
      }
      await add(
        [...mergePackages(store, extras, warn), ...statusEntries(extras)],
        `distill base: --package ${lock.request.packages.join(' ')}`,
      );
    }
    if (config.files.length > 0) {
      await add(await extraFileEntries(config, opts.baseDir ?? '.'), 'distill base: files');
    }
    const debug = unpacked.get('busybox-static');
    if (lock.request.debug && debug) {
      const bin = debug.entries.find((e) => e.type === 'file' && /(^|\/)bin\/busybox$/.test(e.path));
      if (!bin?.digest || bin.size === undefined) {
        throw new DistillError('DEB_INVALID', 'busybox-static has no bin/busybox');
      }
      const digest = bin.digest;
      const size = bin.size;
      const applets = await busyboxApplets(await openStored(store, bin));
      const entries: CacheableEntry[] = busyboxEntries(
        { size, open: () => openStored(store, bin) },
        applets,
      ).map((entry) => ({ entry, ...(entry.type === 'file' && { contentDigest: digest }) }));
      await add([...entries, ...statusEntries([{ contents: debug }])], 'distill base --debug: busybox');
    }
    if (nodeLayer && lock.node) {
      image = appendLayers(image, {
        layer: await nodeLayer,
        history: { created, created_by: `distill base: Node.js ${lock.node.version}` },
      });
    }

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
    return setContainerConfig(image, patch);
  } catch (err) {
    // Let the Node download finish or fail before reporting, so nothing writes into the store
    // after the command has returned.
    await nodeLayer?.catch(() => {});
    throw err;
  }
}

export async function buildBase(
  lock: Lockfile,
  config: BaseConfig,
  sources: BuildSources,
  opts: BaseBuildOptions,
): Promise<Artifact> {
  const images: Image[] = [];
  for (const arch of config.archs) images.push(await buildArch(lock, config, arch, sources, opts));
  if (images.length === 1) return images[0]!;
  return buildIndex(images);
}
