import { readFile, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { AttestOptions } from '../build/attest.js';
import { buildBase } from '../build/base/index.js';
import type { WrittenOutput } from '../build/outputs.js';
import { aptPlanSources, distillSources } from '../build/sources.js';
import { DistillError } from '../errors.js';
import { parseSourceDateEpoch } from '../layers/epoch.js';
import type { MediaOptions } from '../media/index.js';
import type { Artifact } from '../oci/image.js';
import { type BaseConfig, checkLock, defaultBaseConfig, lockBase } from '../plan/base.js';
import { planBase } from '../plan/base-plan.js';
import { formatLockfile, LOCKFILE_NAME, type Lockfile, readLockfile } from '../plan/lockfile.js';
import { chooseMirrors, type MirrorChoice, type MirrorLayer } from '../plan/mirrors.js';
import { VARIANTS, type Variant, variantSpec } from '../plan/variants.js';
import { AptSource } from '../sources/apt/index.js';
import type { Store } from '../store/store.js';
import type { Reporter } from './progress.js';
import { cancelOnSignals } from './signals.js';

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
  /** `--attest`, `--sbom`: attestations attached to the outputs that hold them. */
  attest?: AttestOptions;
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
  const lock = await lockBase(config, aptPlanSources(apt, nodeOptions(args, ctx), config.archs));
  await writeFile(file, formatLockfile(lock));
  return { lock, file };
}

/** The Node source options of the flags: the store, and --node-mirror. */
function nodeOptions(args: BaseArgs, ctx: BaseContext): { store: Store; mirror?: string } {
  return { store: ctx.store, ...(args.nodeMirror !== undefined && { mirror: args.nodeMirror }) };
}

/** `distill base`: the flags (and -f FILE) as a BaseRequest, planned and built by the library. */
export async function commandBase(
  args: BaseArgs,
  ctx: BaseContext,
  outputs: string[],
): Promise<{ artifact: Artifact; outputs: string[]; lock: Lockfile; published: WrittenOutput[] }> {
  const { config, mirrors, baseDir } = await baseConfigFrom(args);
  const step = (m: string) => ctx.reporter.step?.(m);
  const lockfile = args.lock !== undefined ? await readLockfile(args.lock) : undefined;
  const sourceDateEpoch = parseSourceDateEpoch(ctx.env.SOURCE_DATE_EPOCH);
  return cancelOnSignals(async (signal) => {
    const sources = distillSources({
      store: ctx.store,
      apt: () =>
        lockfile !== undefined && args.lock !== undefined
          ? aptSource(
              args,
              ctx,
              lockfile.suites.map((s) => s.name),
              [mirrors, lockedMirrors(lockfile, args.lock)],
            )
          : aptSource(args, ctx, config.suites, [mirrors]),
      ...(args.nodeMirror !== undefined && { nodeMirror: args.nodeMirror }),
      ...(ctx.media && { media: ctx.media }),
      signal,
    });
    const plan = await planBase(
      {
        config,
        baseDir,
        outputs,
        ...(sourceDateEpoch !== undefined && { sourceDateEpoch }),
        ...(lockfile !== undefined && args.lock !== undefined && { lock: { lockfile, file: args.lock } }),
      },
      sources,
      { step },
    );
    const { artifact, outputs: published } = await buildBase(plan, {
      store: ctx.store,
      sources,
      ...(ctx.media && { media: ctx.media }),
      step,
      warn: ctx.warn,
      ...(args.attest && { attest: args.attest }),
      signal,
    });
    return { artifact, outputs: plan.outputs, lock: plan.lock, published };
  });
}
