import { join, resolve } from 'node:path';
import { DistillError } from '../errors.js';
import { hostPlatform } from '../host.js';
import { DEFAULT_LAYER_COMPRESSION, type LayerCompression } from '../layers/compression.js';
import type { Digest } from '../oci/digest.js';
import { formatPlatform, parsePlatform } from '../oci/platform.js';
import { parseImageRef } from '../ref/transport.js';
import { type AppDir, findWorkspace, readAppDir } from '../sources/app/read.js';
import type { NodeReleases } from '../sources/node/index.js';
import type { PackageManagerName } from '../sources/node/pm.js';
import type { NodeArch } from '../sources/node/remote.js';
import { plannedLayers } from './app-layers.js';
import { chooseAppNode, nodeSpecsOf, type PlannedNode } from './app-node.js';
import { type BaseConfig, debianArch, debianToOci, defaultBaseConfig } from './base.js';
import { planBuildAndCommand, type WorkspacePackage } from './builder.js';
import { choosePackageManager, imageName, installNeedsWholeApp, pmSpec, pmToolName } from './choices.js';
import type { FrameworkPlan } from './frameworks.js';
import { outputLayers } from './frameworks-plan.js';
import { labelsOf, nodeLabels } from './labels.js';
import { APP_DIR, layoutEnv, NONROOT_USER, nodeEntrypoint, TINI_PACKAGE } from './layout.js';
import type { Lockfile } from './lockfile.js';
import { planNative } from './native-host.js';
import type { PlannedNativePlatform } from './native-routes.js';
import { type PlannedPrune, planPrune } from './prune.js';
import type { PlannedSecrets } from './secrets.js';
import { planWritable, writableFields } from './writable.js';

/**
 * `distill build`, the planning half (as apko resolves a config into a lock before building):
 * an app directory and the options become an AppPlan, plain data that says everything the
 * build does (the Node release, the package manager, the base's locked packages, the layers,
 * the container config, the outputs). `--plan` prints it; buildApp (src/build/app) builds from
 * it and nothing else. Resolutions that need the network go through the sources given.
 */
export interface AppRequest {
  /** The app directory (a workspace root with `workspace`). */
  dir: string;
  /** `--node`: a Node version spec (else engines.node, .nvmrc, .node-version, volta.node, the LTS). */
  node?: string;
  /** `--cmd`: the arguments for node (else distill.cmd, scripts.start, main, index.js). */
  cmd?: string[];
  /** `--build-script` (default: `build` when package.json has one; `''`: none). */
  buildScript?: string;
  /** `--no-build`: no build script runs; the command's file must be in the source tree. */
  noBuild?: boolean;
  /** `--workspace`: one package of an npm, pnpm or yarn workspace. */
  workspace?: string;
  /** `--base REF`: any image as the OS base, instead of distill's Debian one. */
  base?: string;
  /** `--package`: Debian packages added to distill's base. */
  packages?: string[];
  /** `--debug`: busybox in the image. */
  debug?: boolean;
  /**
   * tini as PID 1, which passes signals on to Node (decision 0015): the default on distill's own
   * base; false is `--no-init`; true with `base` is refused (add no packages to another image).
   */
  init?: boolean;
  /** The HEALTHCHECK command (CMD form), e.g. what the CLI makes of `--healthcheck PATH|URL`. */
  healthcheck?: string[];
  user?: string;
  /** `-e NAME=VALUE`. */
  env?: string[];
  /** `-p PORT[/PROTO]`. */
  ports?: string[];
  /** `--writable DIR`: an empty directory owned by the app user (relative: under the working directory). */
  writable?: string[];
  /** `--volume DIR`: a writable directory declared as a VOLUME. */
  volumes?: string[];
  /** `linux/amd64`, `linux/arm64` (default: the host's). */
  platforms?: string[];
  /** Debian suites of the base (default trixie, trixie-updates, trixie-security). */
  suites?: string[];
  /** Image references to write (default: an OCI layout in DIR/.distill/image). */
  outputs?: string[];
  /** `-t NAME[:TAG]` (default: the package's name, latest). */
  tag?: string;
  /** Also load the image into Docker, under the name and tag the plan gives it. */
  load?: boolean;
  /** Layer mtimes and `created`; undefined: mtimes 0 and `created` from the last commit. */
  sourceDateEpoch?: number;
  /** `--include-secret`: files (relative to `dir`) the secret rules match, kept in the image deliberately. */
  includeSecrets?: string[];
  /** Strip bin/node of its debug sections and static symbols (default true; false is `--no-strip`). */
  strip?: boolean;
  /** How the layers are compressed (`--compression`; default gzip 6). */
  compression?: LayerCompression;
  /** false is `--no-prune`: the node_modules layer keeps every installed file (default: the safe prune, prune-rules.ts). */
  prune?: boolean;
  /** `--trace` (with `--trace-entry`, `--trace-include`): node_modules keeps only what the app reaches (trace.ts). */
  trace?: { entries?: string[]; include?: string[] };
  /** `--cross-toolchain PREFIX`: the cross compiler for a foreign platform's native addons (decision 0024). */
  crossToolchain?: string;
  /** The host facts the native routes are decided from (default: PATH of the process, /proc/sys/fs/binfmt_misc). */
  crossHost?: { path?: string; binfmtDir?: string };
}

/** What planApp asks the outside world (src/build/sources.ts has distill's own). */
export interface AppPlanSources {
  /** The Node releases published for every one of `archs`, which the app's Node is chosen from. */
  nodeReleases(archs: readonly NodeArch[]): Promise<NodeReleases>;
  /** The exact version of a package manager a spec means, run by a Node version (with its tarball's integrity when known). */
  resolvePackageManager(
    name: PackageManagerName,
    spec: string,
    nodeVersion: string,
  ): Promise<string | { version: string; integrity?: string }>;
  /** The lockfile of distill's base for an app (node-app variant). */
  lockAppBase(config: BaseConfig): Promise<Lockfile>;
  /** The manifest digest of the image of `ref` for each Debian architecture (PLATFORM_NOT_FOUND when one is missing). */
  baseManifests(ref: string, archs: readonly string[]): Promise<Record<string, Digest>>;
  /**
   * The app directory's files the secret rules match, with `include` (--include-secret) checked
   * against them (USAGE for a path not there, unless a build script may make it), and warnings.
   */
  appSecrets(
    dir: string,
    include: readonly string[],
    hasBuildScript: boolean,
  ): Promise<{ secrets: PlannedSecrets; warnings: string[] }>;
}

/** A layer the build makes, in image order. */
export interface PlannedLayer {
  name: 'os' | 'packages' | 'debug' | 'node' | 'node_modules' | 'app' | 'writable';
  /** What it holds. */
  holds: string;
  /** What its cache key is made of; empty: made every build. */
  key: string[];
  /** Its history line (`created_by`), for the layers the app build adds. */
  createdBy?: string;
}

export type AppBasePlan =
  /** distill's own base: the lock of its Debian packages and the config it was made for. */
  | { kind: 'debian'; config: BaseConfig; lock: Lockfile }
  /** Another image (--base REF), pinned to the manifest of each architecture. */
  | { kind: 'image'; ref: string; manifests: Record<string, Digest> };

export interface AppPlan {
  /** The version of this shape; buildApp refuses another. */
  planVersion: 1;
  app: { dir: string; name?: string; version?: string; workspace?: string };
  /** `strip`: bin/node without its debug sections and static symbol table (false: `--no-strip`). */
  node: PlannedNode & { strip: boolean };
  /** `integrity`: the registry's SRI of the package manager's tarball (absent in older plans). */
  packageManager: {
    name: PackageManagerName;
    spec: string;
    version: string;
    from: string;
    integrity?: string;
  };
  buildScript?: string;
  /** Why the build script runs or not, and what the plan can tell of its output (hints). */
  build?: { from: string; notes: string[] };
  install: {
    /** What goes into the install's scratch copy: the whole app, or what an install reads. */
    copy: 'app' | 'install-inputs';
    /** The lockfile, named in messages. */
    lockfile: string;
    /** What the install reads, relative to the app root: the cache key of both installs. */
    inputs?: string[];
    /** Why the full install's key is made of every file of the app, when it is. */
    wholeApp?: string;
    /** With --workspace: the packages built (dependencies first, the package last) and shipped. */
    workspaces?: WorkspacePackage[];
  };
  /** Files that look like secrets: left out of the app layer, or kept by --include-secret. */
  secrets: PlannedSecrets;
  /** Per platform other than the host's: how each native package gets its code (native-routes.ts). */
  native?: PlannedNativePlatform[];
  /** The safe prune of the node_modules layer (absent in older plans: off). */
  prune?: PlannedPrune;
  base: AppBasePlan;
  /** One image per platform (linux/amd64, linux/arm64); several make an index. */
  platforms: string[];
  layers: PlannedLayer[];
  /** The web framework (or `node`, a plain server), what it was detected from, what it runs and how the image is made. */
  framework: FrameworkPlan;
  /**
   * What node runs: these arguments, after the file of a dependency's `bin` when one is named;
   * `entry`: the file it starts from and where that was checked.
   */
  cmd: { args: string[]; from: string; bin?: string; entry?: { file: string; checked: string } };
  entrypoint: string[];
  user: string;
  workdir: string;
  env: string[];
  ports: string[];
  /** Directories owned by `user` (its `writable` layer), absent when none; `volumes` among them. */
  writable?: string[];
  volumes?: string[];
  labels: Record<string, string>;
  healthcheck?: string[];
  /** The config's `created` (RFC 3339). */
  created: string;
  /** Every layer entry's mtime, in seconds. */
  sourceDateEpoch: number;
  /** How every layer the build writes is compressed (absent in older plans: gzip 6). */
  layerCompression?: LayerCompression;
  image: { name: string; tag: string };
  outputs: string[];
  /**
   * The layout distill keeps for the app (DIR/.distill/image): when `oci:<ownLayout>:<tag>` is an
   * output, earlier builds are pruned from it.
   */
  ownLayout: string;
}

export const APP_PLAN_VERSION = 1;

/** Progress lines while planning. */
export interface PlanProgress {
  step?(message: string): void;
  /** A decision worth a second look (Node version sources that disagree, an end of life, ...). */
  warn?(message: string): void;
}

/** The request's platforms as Debian architectures; only linux/amd64 and linux/arm64 are built. */
function planArchs(request: AppRequest): string[] {
  return (request.platforms ?? [formatPlatform(hostPlatform())]).map((p) => {
    const plat = parsePlatform(p);
    if (plat.os !== 'linux' || (plat.architecture !== 'amd64' && plat.architecture !== 'arm64')) {
      throw new DistillError('USAGE', `--platform ${p}: distill builds linux/amd64 and linux/arm64 images`);
    }
    return debianArch(plat);
  });
}

function checkRequest(request: AppRequest, app: AppDir): void {
  if (
    request.base !== undefined &&
    ((request.packages ?? []).length > 0 || request.debug || request.init === true)
  ) {
    throw new DistillError(
      'USAGE',
      "--package, --debug and --init add Debian packages to distill's own base; with --base REF, use an image that already has them (distill base can make one)",
    );
  }
  if (
    request.buildScript !== undefined &&
    request.buildScript !== '' &&
    typeof app.packageJson.scripts?.[request.buildScript] !== 'string'
  ) {
    throw new DistillError(
      'APP_INVALID',
      `package.json has no script "${request.buildScript}" for --build-script; its scripts are ${Object.keys(app.packageJson.scripts ?? {}).join(', ') || 'none'}`,
    );
  }
}

/** Whether tini is PID 1: by default on distill's own base, where its package can be added. */
function initOf(request: AppRequest): boolean {
  return request.init ?? request.base === undefined;
}

/** The base: distill's Debian packages, locked, or another image pinned by digest. */
async function planBaseOf(
  request: AppRequest,
  archs: string[],
  sources: AppPlanSources,
  progress: PlanProgress,
): Promise<AppBasePlan> {
  if (request.base !== undefined) {
    progress.step?.(`reading the base ${request.base}`);
    return { kind: 'image', ref: request.base, manifests: await sources.baseManifests(request.base, archs) };
  }
  const packages = [...new Set([...(request.packages ?? []), ...(initOf(request) ? [TINI_PACKAGE] : [])])];
  const config: BaseConfig = {
    ...defaultBaseConfig('node-app'),
    nonroot: true,
    debug: request.debug ?? false,
    packages,
    archs,
    ...((request.suites ?? []).length > 0 && { suites: request.suites }),
  };
  progress.step?.(`resolving the base: ${config.variant} packages from ${config.suites.join(', ')}`);
  return { kind: 'debian', config, lock: await sources.lockAppBase(config) };
}

/** Where the image goes: `-o` and `--load`, else the app's own layout (DIR/.distill/image). */
function planOutputs(request: AppRequest, image: { name: string; tag: string }) {
  const ownLayout = join(request.dir, '.distill', 'image');
  const requested = [
    ...(request.outputs ?? []),
    ...(request.load ? [`docker-daemon:${image.name}:${image.tag}`] : []),
  ];
  return { outputs: requested.length > 0 ? requested : [`oci:${ownLayout}:${image.tag}`], ownLayout };
}

/** The plan's package manager: its exact version and, when the source knows it, its tarball's integrity. */
async function plannedPackageManager(
  sources: AppPlanSources,
  name: PackageManagerName,
  spec: string,
  nodeVersion: string,
  from: string,
): Promise<AppPlan['packageManager']> {
  const r = await sources.resolvePackageManager(name, spec, nodeVersion);
  const { version, integrity } = typeof r === 'string' ? { version: r, integrity: undefined } : r;
  return { name, spec, version, from, ...(integrity !== undefined && { integrity }) };
}

/**
 * Resolves a request into the plan of a build: reads the app directory (and its git checkout),
 * decides, and resolves the Node version, the package manager and the base through `sources`.
 */
export async function planApp(
  request: AppRequest,
  sources: AppPlanSources,
  progress: PlanProgress = {},
): Promise<AppPlan> {
  const archs = planArchs(request);
  const dir = resolve(request.dir);
  const root = await readAppDir(dir);
  const ws = request.workspace !== undefined ? await findWorkspace(root, request.workspace) : undefined;
  const app = ws?.app ?? root;
  const pm = choosePackageManager(root);
  checkRequest(request, app);
  const pmName = pmToolName(pm);
  const { buildScript, fw, builder } = await planBuildAndCommand({ root, app, ws, request, pm: pmName });
  const user = request.user ?? NONROOT_USER;
  const workdir = ws ? `${APP_DIR}/${ws.rel}` : APP_DIR;
  const places = planWritable(request, app, workdir, user);
  progress.step?.(fw.says);
  for (const w of fw.framework.warnings ?? []) progress.warn?.(w);
  for (const o of request.outputs ?? []) parseImageRef(o);
  const secrets = await sources.appSecrets(dir, request.includeSecrets ?? [], buildScript !== undefined);
  for (const w of secrets.warnings) progress.warn?.(w);

  const node = await chooseAppNode(nodeSpecsOf(app, root, request.node), archs, sources, progress);
  const nodeVersion = node.version;
  const spec = pmSpec(pm, root, nodeVersion);
  const packageManager = await plannedPackageManager(sources, pmName, spec, nodeVersion, pm.from);
  const image = imageName(app, request.tag);
  const base = await planBaseOf(request, archs, sources, progress);
  const plan: Omit<AppPlan, 'layers'> = {
    planVersion: APP_PLAN_VERSION,
    app: {
      dir,
      ...(app.packageJson.name !== undefined && { name: app.packageJson.name }),
      ...(app.packageJson.version !== undefined && { version: app.packageJson.version }),
      ...(request.workspace !== undefined && { workspace: request.workspace }),
    },
    node: { ...node, strip: request.strip ?? true },
    packageManager,
    ...(buildScript !== undefined && { buildScript }),
    build: builder.build,
    install: {
      copy: installNeedsWholeApp(root, app, ws !== undefined) ? 'app' : 'install-inputs',
      lockfile: root.lockfiles[0] ?? 'the lockfile',
      ...builder.install,
    },
    secrets: secrets.secrets,
    ...(await planNative(dir, root.lockfiles[0], archs, buildScript !== undefined, request, {
      name: pmName,
      version: packageManager.version,
    })),
    prune: await planPrune(request, dir, fw.cmd, fw.framework, ws?.rel),
    base,
    platforms: archs.map((a) => formatPlatform(debianToOci(a))),
    framework: fw.framework,
    cmd: fw.cmd,
    entrypoint: nodeEntrypoint(initOf(request)),
    user,
    workdir,
    env: [
      ...Object.entries(layoutEnv({ debug: request.debug ?? false, nodeVersion })).map(
        ([k, v]) => `${k}=${v}`,
      ),
      'NODE_ENV=production',
      ...fw.env,
      ...(request.env ?? []),
    ],
    ports: fw.ports,
    ...writableFields(places),
    ...labelsOf(dir, app, image.name, request.sourceDateEpoch, progress.step),
    ...(request.healthcheck !== undefined && { healthcheck: [...request.healthcheck] }),
    sourceDateEpoch: request.sourceDateEpoch ?? 0,
    layerCompression: request.compression ?? DEFAULT_LAYER_COMPRESSION,
    image,
    ...planOutputs(request, image),
  };
  const labels = { ...plan.labels, ...nodeLabels(plan.node.strip) };
  return { ...plan, labels, layers: outputLayers(plannedLayers(plan), fw.framework) };
}
