import type { PackageIndex } from '../debian/resolver.js';
import { DistillError } from '../errors.js';
import { selectPlatform } from '../media/copy.js';
import { type MediaOptions, openArtifact } from '../media/index.js';
import type { Digest } from '../oci/digest.js';
import type { Artifact } from '../oci/image.js';
import type { AppPlanSources } from '../plan/app.js';
import { type BaseConfig, debianToNodeArch, debianToOci, lockBase, type PlanSources } from '../plan/base.js';
import type { BasePlanSources } from '../plan/base-plan.js';
import type { LockedPackage, Lockfile } from '../plan/lockfile.js';
import { variantSpec } from '../plan/variants.js';
import { parseImageRef } from '../ref/transport.js';
import type { AptSource } from '../sources/apt/index.js';
import {
  commonNodeReleases,
  fetchNodeRuntime,
  knownNodeRelease,
  type NodeArch,
  type NodeRelease,
  type NodeRuntime,
  type NodeSourceOptions,
  nodeToolchainDir,
  resolveCommonNodeVersion,
} from '../sources/node/index.js';
import {
  fetchPackageManager,
  type PackageManagerName,
  type PackageManagerTool,
  resolvePackageManager,
} from '../sources/node/pm.js';
import type { KeyParts } from '../store/records.js';
import type { Store } from '../store/store.js';
import { appContext } from './app/context.js';
import { planSecrets } from './app/secrets.js';

/**
 * Where builds get their inputs: the Node runtime and the package managers (the npm registry or
 * a Node mirror), Debian packages (an apt source), other images (any medium), each verified by
 * its source. Resolutions that need the network are remembered in the store for a day (`pull`
 * asks again), so a rebuild after a code change touches no network. One object serves the
 * planning and the building of an app or a base, so what planning opened or started fetching
 * (a --base image, a Node release) is used again by the build.
 */
export interface BuildSources {
  nodeRuntime(version: string, arch: NodeArch): Promise<NodeRuntime>;
  /** The release archive as recorded when it was verified (no network): what the Node layer is keyed by. */
  nodeRelease(version: string, arch: NodeArch): Promise<NodeRelease | undefined>;
  /** The whole release extracted, for building addons against its headers: bin/node, include/node. */
  nodeToolchain(version: string, arch: NodeArch): Promise<string>;
  packageManager(name: PackageManagerName, version: string, nodeVersion: string): Promise<PackageManagerTool>;
  fetchDeb(p: LockedPackage): Promise<{ digest: Digest; size: number }>;
  /** Only the named packages' stanzas of a suite's index. */
  packagesNamed(suite: string, arch: string, names: ReadonlySet<string>): Promise<PackageIndex>;
  openBase(ref: string): Promise<Artifact>;
}

export interface DistillSources extends AppPlanSources, BasePlanSources, BuildSources {}

export interface DistillSourcesOptions {
  store: Store;
  /** The Debian archive, made when first needed (reading keyrings is part of making it). */
  apt(): Promise<AptSource>;
  /** A Node.js dist mirror instead of the npm registry's node-linux-* packages. */
  nodeMirror?: string;
  /** The npm registry Node and the package managers come from (default: npm's own settings). */
  npmRegistry?: string;
  /** Resolve again what is remembered (`--pull`). */
  pull?: boolean;
  /** How other images are read (registry credentials). */
  media?: MediaOptions;
  signal?: AbortSignal;
}

/** The apt source and Node releases as what base planning (lockBase) asks. */
export function aptPlanSources(
  apt: AptSource,
  node: NodeSourceOptions,
  archs: readonly string[],
): PlanSources {
  return {
    release: (s) => apt.release(s),
    packages: (s, arch) => apt.packages(s, arch),
    packagesNamed: (s, arch, names) => apt.packagesNamed(s, arch, names),
    // The newest version published for every architecture asked for.
    resolveNode: (spec) =>
      resolveCommonNodeVersion(
        spec,
        archs.map(debianToNodeArch),
        node,
        `the Node.js releases published for ${archs.join(' and ')}`,
      ),
  };
}

/** What a base lock is a function of, besides the indexes: the request and its mirrors. */
function lockParts(config: BaseConfig, apt: AptSource): KeyParts {
  return {
    variant: config.variant,
    packages: config.packages,
    debug: config.debug,
    archs: config.archs,
    suites: config.suites,
    node: config.node ?? null,
    mirrors: config.suites.map((s) => apt.mirrorFor(s)),
  };
}

/**
 * The signed InRelease files, fetched and verified, and the Node version of the request: the
 * Packages indexes a lock is resolved from are named there by SHA256, so these lines change
 * exactly when a resolution could.
 */
async function lockInputs(
  config: BaseConfig,
  sources: PlanSources,
  apt: AptSource,
): Promise<{ indexes: string[]; node?: string }> {
  const indexes: string[] = [];
  const releases = await Promise.all(config.suites.map((s) => apt.release(s)));
  for (const [i, s] of config.suites.entries()) {
    const r = releases[i]!;
    for (const arch of config.archs) {
      const f = ['xz', 'gz', '']
        .map((ext) => r.files.get(`main/binary-${arch}/Packages${ext ? `.${ext}` : ''}`))
        .find(Boolean);
      indexes.push(`${s}/${arch}:${f?.sha256 ?? 'none'}:${r.date}:${r.mirror}`);
    }
  }
  const spec = variantSpec(config.variant);
  if (spec.nodeMajor === undefined) return { indexes };
  const node = await sources.resolveNode(config.node ?? String(spec.nodeMajor));
  return { indexes: [...indexes, `node:${node}`], node };
}

/** A lock resolved before locks kept their InRelease digests is resolved again (its provenance would lack them). */
function hasInReleaseDigests(lock: Lockfile): boolean {
  return lock.suites.every((s) => s.inReleaseSha256 !== undefined);
}

/**
 * A base's lock, in the store's one `base-lock` record (build's base and `distill base` share
 * it). Resolving reads whole Packages indexes (trixie's takes seconds to parse), but its result
 * is a pure function of the request and the indexes. With `remembered` (build), a record younger
 * than a day is used as it is, with no network at all (`refresh` asks again, as --pull does);
 * otherwise the InRelease files are fetched and verified every time and a record is used when the
 * indexes it was resolved from are still the ones there.
 */
export async function lockBaseRecorded(
  config: BaseConfig,
  sources: PlanSources,
  apt: AptSource,
  store: Store,
  opts: { remembered?: boolean; refresh?: boolean; onNode?: (version: string) => void } = {},
): Promise<Lockfile> {
  const parts = lockParts(config, apt);
  const records = store.record('base-lock');
  if (opts.remembered && !opts.refresh) {
    const hit = await records.get(parts);
    if (hit && hasInReleaseDigests(hit.lock)) return hit.lock;
  }
  const { indexes, node } = await lockInputs(config, sources, apt);
  if (node !== undefined) opts.onNode?.(node);
  const known = opts.refresh ? undefined : await records.get(parts, { ttlMs: Number.POSITIVE_INFINITY });
  if (known && hasInReleaseDigests(known.lock) && JSON.stringify(known.indexes) === JSON.stringify(indexes)) {
    // Checked against the archive now: a build may use it for another day without asking.
    await records.put(parts, known);
    return known.lock;
  }
  const lock = await lockBase(config, {
    ...sources,
    resolveNode: async (spec) => node ?? sources.resolveNode(spec),
  });
  await records.put(parts, { lock, indexes });
  return lock;
}

/** The fetching half: one fetch per Node release and one opening per image, shared by whoever asks. */
function fetchers(
  opts: DistillSourcesOptions,
  node: NodeSourceOptions,
): BuildSources & { settle(): Promise<void> } {
  const runtimes = new Map<string, Promise<NodeRuntime>>();
  const bases = new Map<string, Promise<Artifact>>();
  return {
    nodeRuntime: (version, arch) => {
      let p = runtimes.get(`${version}/${arch}`);
      if (!p) {
        p = fetchNodeRuntime(version, arch, node);
        runtimes.set(`${version}/${arch}`, p);
      }
      return p;
    },
    nodeRelease: (version, arch) => knownNodeRelease(version, arch, node),
    nodeToolchain: (version, arch) => nodeToolchainDir(version, arch, node),
    packageManager: (name, version, nodeVersion) => fetchPackageManager(name, version, nodeVersion, node),
    fetchDeb: async (p) => (await opts.apt()).fetchDeb(p),
    packagesNamed: async (suite, arch, names) => (await opts.apt()).packagesNamed(suite, arch, names),
    openBase: (ref) => {
      let p = bases.get(ref);
      if (!p) {
        p = openArtifact(parseImageRef(ref), { ...opts.media, store: opts.store });
        bases.set(ref, p);
      }
      return p;
    },
    settle: async () => {
      await Promise.allSettled(runtimes.values());
    },
  };
}

/** distill's sources: the npm registry (or a Node mirror), an apt source, any image medium, the store. */
export function distillSources(opts: DistillSourcesOptions): DistillSources {
  const { store } = opts;
  const node: NodeSourceOptions = {
    store,
    ...(opts.nodeMirror !== undefined && { mirror: opts.nodeMirror }),
    ...(opts.npmRegistry !== undefined && { registry: opts.npmRegistry }),
    ...(opts.signal && { signal: opts.signal }),
  };
  const refresh = { refresh: opts.pull === true };
  const { settle, ...fetch } = fetchers(opts, node);
  return {
    ...fetch,
    // The list, not a pick, is remembered: the choice and its warnings are made again each plan.
    nodeReleases: (archs) =>
      store.remember(
        'build-node',
        { archs: [...archs], mirror: opts.nodeMirror ?? null, registry: opts.npmRegistry ?? null },
        () => commonNodeReleases(archs, node),
        refresh,
      ),
    resolvePackageManager: (name, spec, nodeVersion) =>
      store.remember(
        'build-pm',
        { name, spec, node: nodeVersion },
        async () => {
          // The integrity too, so a warm build's provenance names the tarball without the registry.
          const { version, integrity } = await resolvePackageManager(name, spec, nodeVersion, node);
          return { version, ...(integrity !== undefined && { integrity }) };
        },
        refresh,
      ),
    lockAppBase: async (config) => {
      const apt = await opts.apt();
      return lockBaseRecorded(config, aptPlanSources(apt, node, config.archs), apt, store, {
        remembered: true,
        ...refresh,
      });
    },
    lockBase: async (config) => {
      const apt = await opts.apt();
      // Node's download starts as soon as its version is known, before the indexes are read.
      const prefetch = (version: string) => {
        for (const a of config.archs) void fetch.nodeRuntime(version, debianToNodeArch(a)).catch(() => {});
      };
      try {
        return await lockBaseRecorded(config, aptPlanSources(apt, node, config.archs), apt, store, {
          onNode: prefetch,
        });
      } catch (err) {
        // Nothing may still write into the store once the caller has the error.
        await settle();
        throw err;
      }
    },
    baseManifests: async (ref, archs) => {
      const art = await fetch.openBase(ref);
      const out: Record<string, Digest> = {};
      for (const arch of archs) {
        const sel = await selectPlatform(art, debianToOci(arch));
        if (sel.kind !== 'image')
          throw new DistillError('PLATFORM_NOT_FOUND', `${ref} has no linux/${arch} image`);
        out[arch] = sel.manifest.digest;
      }
      return out;
    },
    appSecrets: async (dir, include, hasBuildScript) =>
      planSecrets(await appContext(dir, { includeSecrets: include }), hasBuildScript),
  };
}
