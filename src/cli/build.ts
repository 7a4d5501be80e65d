import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { type AppLayers, assembleAppImage, buildAppLayers } from '../build/app/build.js';
import { appContext } from '../build/app/context.js';
import type { Toolchain } from '../build/app/install.js';
import {
  checkNativeFiles,
  debianPackageCandidates,
  findElfFiles,
  librariesOf,
  type NativeTarget,
  readAt,
} from '../build/app/native.js';
import { buildBase } from '../build/base/build.js';
import { unpackDeb } from '../build/base/debfiles.js';
import { cachedLayer, nodeCacheableEntries } from '../build/layercache.js';
import { DistillError } from '../errors.js';
import { selectPlatform } from '../media/copy.js';
import { openArtifact } from '../media/index.js';
import { type Published, publish } from '../media/publish.js';
import { type Digest, digestOf } from '../oci/digest.js';
import { type Artifact, type Image, loadManifest } from '../oci/image.js';
import { appendLayers, buildIndex } from '../oci/mutate.js';
import { formatPlatform, parsePlatform } from '../oci/platform.js';
import { chooseCmd, choosePackageManager, nodeVersionSpec, type PackageManagerChoice } from '../plan/app.js';
import { type BaseConfig, debianToNodeArch, debianToOci, defaultBaseConfig } from '../plan/base.js';
import type { Lockfile } from '../plan/lockfile.js';
import type { MirrorChoice } from '../plan/mirrors.js';
import type { Variant } from '../plan/variants.js';
import { parseImageRef } from '../ref/transport.js';
import { type AppDir, findWorkspace, readAppDir } from '../sources/app/read.js';
import {
  fetchNodeRuntime,
  listNodeVersions,
  nodeToolchainDir,
  pickNodeVersion,
} from '../sources/node/index.js';
import { fetchPackageManager, type PackageManagerName, resolvePackageManager } from '../sources/node/pm.js';
import type { Store } from '../store/store.js';
import { aptSource, type BaseArgs, type BaseContext, lockBaseCached, planSources } from './base.js';

/**
 * `distill build [DIR]`: a Node.js app to a distroless image. This file resolves what the
 * build needs (Node version, package manager, base packages, command) and hands the work to
 * src/build/app; resolutions that need the network are remembered for a day (`--pull` asks
 * again), so a rebuild after a code change touches no network at all.
 */
export interface BuildArgs {
  dir: string;
  node?: string;
  nodeMirror?: string;
  cmd?: string[];
  buildScript?: string;
  workspace?: string;
  base?: string;
  packages: string[];
  debug: boolean;
  init: boolean;
  healthcheck?: string;
  user?: string;
  env: string[];
  ports: string[];
  platforms?: string[];
  outputs: string[];
  tag?: string;
  /** Also load the image into Docker under the name (from tag, else package.json) it gets. */
  load?: boolean;
  pull: boolean;
  suites: string[];
  /** `--mirror URL` and `--mirror SUITE=URL`, parsed. */
  mirrors?: MirrorChoice;
  keyrings: string[];
}

export interface BuildPlan {
  app: { dir: string; name?: string; version?: string; workspace?: string };
  node: { version: string; spec: string; from: string };
  packageManager: { name: string; version: string; from: string };
  buildScript?: string;
  base: { ref?: string; variant?: string; suites?: string[]; packages?: Record<string, string[]> };
  platforms: string[];
  cmd: { args: string[]; from: string; bin?: string };
  entrypoint: string[];
  user: string;
  workdir: string;
  env: string[];
  ports: string[];
  layers: string[];
  outputs: string[];
}

const RESOLVE_TTL_MS = 24 * 3600 * 1000;

async function remembered<T>(store: Store, key: string, pull: boolean, fn: () => Promise<T>): Promise<T> {
  const hit = await store.getMeta<{ at: number; value: T }>(key);
  if (!pull && hit && Date.now() - hit.at < RESOLVE_TTL_MS) return hit.value;
  const value = await fn();
  await store.putMeta(key, { at: Date.now(), value });
  return value;
}

function pmToolName(pm: PackageManagerChoice): PackageManagerName {
  if (pm.name === 'yarn') return pm.flavor === 'berry' ? 'yarn-berry' : 'yarn-classic';
  return pm.name;
}

async function pmSpec(pm: PackageManagerChoice, root: AppDir, nodeVersion: string): Promise<string> {
  if (pm.version !== undefined) return pm.version;
  switch (pm.name) {
    case 'npm':
      // The npm major that ships with that Node release (what `FROM node:NN` builds with): npm
      // 10 with Node 20 and 22, 11 from Node 24. Measured on bench/build's medium app, npm 12
      // took a second longer for the same install.
      return Number(nodeVersion.split('.')[0]) <= 22 ? '10' : '11';
    case 'pnpm': {
      const lock = await readFile(join(root.dir, 'pnpm-lock.yaml'), 'utf8').catch(() => '');
      const v = /^lockfileVersion:\s*'?(\d+)/m.exec(lock)?.[1];
      return v === '5' ? '7' : v === '6' ? '8' : '10';
    }
    case 'yarn':
      return pm.flavor === 'berry' ? '4' : '1';
  }
}

function gitInfo(dir: string): { revision?: string; time?: number; source?: string } {
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const log = git('log', '-1', '--format=%H %ct');
  const remote = git('config', '--get', 'remote.origin.url');
  const out: { revision?: string; time?: number; source?: string } = {};
  if (log) {
    const [rev, t] = log.split(' ');
    if (rev) out.revision = rev;
    if (t && /^\d+$/.test(t)) out.time = Number(t);
  }
  // Credentials in a remote URL stay out of the image.
  if (remote) out.source = remote.replace(/\/\/[^@/]+@/, '//');
  return out;
}

function imageName(app: AppDir, tag?: string): { name: string; tag: string } {
  if (tag !== undefined) {
    const i = tag.lastIndexOf(':');
    return i > 0 && !tag.slice(i).includes('/')
      ? { name: tag.slice(0, i), tag: tag.slice(i + 1) }
      : { name: tag, tag: 'latest' };
  }
  const raw = (app.packageJson.name ?? basename(resolve(app.dir))).replace(/^@/, '').replace('/', '-');
  const name = raw.toLowerCase().replace(/[^a-z0-9._-]/g, '-') || 'app';
  return { name, tag: 'latest' };
}

function healthcheckScript(spec: string, ports: string[]): string[] {
  const port = ports[0]?.replace(/\/.*$/, '') ?? '8080';
  const url = /^https?:\/\//.test(spec)
    ? JSON.stringify(spec)
    : `new URL(${JSON.stringify(spec.startsWith('/') ? spec : `/${spec}`)}, 'http://127.0.0.1:' + (process.env.PORT || ${JSON.stringify(port)}))`;
  return [
    '/nodejs/bin/node',
    '-e',
    `fetch(${url}, { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.status < 400 ? 0 : 1), () => process.exit(1))`,
  ];
}

/** glibc version of a locked libc6 (2.41-12+deb13u4 -> 2.41). */
function glibcOf(lock: Lockfile, arch: string): string | undefined {
  const libc = lock.architectures[arch]?.find((p) => p.name === 'libc6');
  return libc ? /^(\d+\.\d+)/.exec(libc.version)?.[1] : undefined;
}

interface BaseResult {
  images: Map<string, Image>;
  lock?: Lockfile;
  /** soname -> path of the shared libraries in the base, per Debian arch. */
  libraries: Map<string, Map<string, string>>;
  /** The libc of a --base image, per Debian arch, as its files show it. */
  libc?: Map<string, BaseLibc>;
  suggest?(arch: string): (soname: string) => Promise<string | undefined>;
}

interface BaseLibc {
  family: 'glibc' | 'musl' | 'none';
  version: string | null;
}

interface BaseFilesRecord {
  libraries: [string, string][];
  libc: BaseLibc;
}

/**
 * The shared libraries and libc of a --base image, read from its merged filesystem (the inspect
 * library streams its layers once for both; nothing is unpacked), remembered by manifest digest.
 */
async function baseFiles(store: Store, image: Image): Promise<BaseFilesRecord> {
  const key = `build-base-files:v1:${image.manifest.digest}`;
  const hit = await store.getMeta<BaseFilesRecord>(key);
  if (hit) return hit;
  const { inspectImageTree } = await import('../inspect/index.js');
  const { facts, tree } = await inspectImageTree(image);
  const libraries = [...librariesOf(tree.files())];
  const { libc } = facts;
  const rec: BaseFilesRecord = { libraries, libc: { family: libc.family, version: libc.version } };
  await store.putMeta(key, rec);
  return rec;
}

interface ImageRecord {
  manifest: { digest: Digest; mediaType: string; size: number };
}

async function storeImage(store: Store, image: Image): Promise<ImageRecord> {
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

async function loadStoredImage(store: Store, rec: ImageRecord): Promise<Image | undefined> {
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
  return { ...art, layers: art.layers.map((l) => ({ ...l, file: store.blobPath(l.descriptor.digest) })) };
}

export async function commandBuild(
  args: BuildArgs,
  ctx: BaseContext,
  sourceDateEpoch: number,
  planOnly: boolean,
): Promise<{ plan: BuildPlan; artifact?: Artifact; dockerName: string; published?: Published[] }> {
  const { store, reporter } = ctx;
  const step = (m: string) => reporter.step?.(m);
  const dir = resolve(args.dir);
  const root = await readAppDir(dir);
  const ws = args.workspace !== undefined ? await findWorkspace(root, args.workspace) : undefined;
  const app = ws?.app ?? root;
  const pm = choosePackageManager(root);
  const nodeSpec = nodeVersionSpec(app.packageJson.engines?.node ? app : root, args.node);
  const cmdChoice = chooseCmd(app, args.cmd);
  const buildScript =
    args.buildScript ?? (typeof app.packageJson.scripts?.build === 'string' ? 'build' : undefined);
  if (args.buildScript !== undefined && typeof app.packageJson.scripts?.[args.buildScript] !== 'string') {
    throw new DistillError(
      'APP_INVALID',
      `package.json has no script "${args.buildScript}" for --build-script; its scripts are ${Object.keys(app.packageJson.scripts ?? {}).join(', ') || 'none'}`,
    );
  }
  const archs = (args.platforms ?? [formatPlatform(debianToOci(hostArch()))]).map((p) => {
    const plat = parsePlatform(p);
    if (plat.os !== 'linux' || (plat.architecture !== 'amd64' && plat.architecture !== 'arm64')) {
      throw new DistillError('USAGE', `--platform ${p}: distill builds linux/amd64 and linux/arm64 images`);
    }
    return plat.architecture;
  });
  if (args.base !== undefined && (args.packages.length > 0 || args.debug || args.init)) {
    throw new DistillError(
      'USAGE',
      "--package, --debug and --init add Debian packages to distill's own base; with --base REF, use an image that already has them (distill base can make one)",
    );
  }
  const nodeOpts = { store, ...(args.nodeMirror !== undefined && { mirror: args.nodeMirror }) };

  step(`resolving Node "${nodeSpec.spec}" (${nodeSpec.from})`);
  const nodeVersion = await remembered(
    store,
    `build-node:v1:${JSON.stringify([nodeSpec.spec, archs, args.nodeMirror ?? ''])}`,
    args.pull,
    async () => {
      const lists = await Promise.all(
        archs.map(async (a) => new Set(await listNodeVersions({ ...nodeOpts, arch: debianToNodeArch(a) }))),
      );
      const [first, ...others] = lists;
      const common = [...(first ?? [])].filter((v) => others.every((l) => l.has(v)));
      return pickNodeVersion(nodeSpec.spec, common, {
        source: `the Node.js releases published for linux/${archs.join(' and linux/')} (${nodeSpec.from} asks for "${nodeSpec.spec}")`,
      });
    },
  );
  const pmName = pmToolName(pm);
  const pmVersionSpec = await pmSpec(pm, root, nodeVersion);
  const workdir = ws ? `/app/${ws.rel}` : '/app';
  const { name, tag } = imageName(app, args.tag);
  const defaultOut = `oci:${join(args.dir, '.distill', 'image')}:${tag}`;
  const requested = [...args.outputs, ...(args.load ? [`docker-daemon:${name}:${tag}`] : [])];
  const outputs = requested.length > 0 ? requested : [defaultOut];
  for (const o of outputs) parseImageRef(o);
  const packages = [...args.packages, ...(args.init ? ['tini'] : [])];
  const variant: Variant = 'node-app';

  // The base: OS packages, locked and built (or taken from --base), without Node.
  const baseArgs: BaseArgs = {
    packages,
    suites: args.suites,
    keyrings: args.keyrings,
    ...(args.mirrors !== undefined && { mirrors: args.mirrors }),
    ...(args.nodeMirror !== undefined && { nodeMirror: args.nodeMirror }),
  };
  const baseConfig: BaseConfig = {
    ...defaultBaseConfig(variant),
    nonroot: true,
    debug: args.debug,
    packages,
    archs,
    ...(args.suites.length > 0 && { suites: args.suites }),
  };
  const base = await resolveBase(args, baseArgs, baseConfig, ctx, sourceDateEpoch, planOnly);

  const env = [
    `PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${args.debug ? ':/busybox' : ''}`,
    'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt',
    `NODE_VERSION=${nodeVersion}`,
    'NODE_ENV=production',
    ...args.env,
  ];
  const entrypoint = args.init ? ['/usr/bin/tini-static', '--', '/nodejs/bin/node'] : ['/nodejs/bin/node'];
  const plan: BuildPlan = {
    app: {
      dir,
      ...(app.packageJson.name !== undefined && { name: app.packageJson.name }),
      ...(app.packageJson.version !== undefined && { version: app.packageJson.version }),
      ...(args.workspace !== undefined && { workspace: args.workspace }),
    },
    node: { version: nodeVersion, spec: nodeSpec.spec, from: nodeSpec.from },
    packageManager: { name: pmName, version: pmVersionSpec, from: pm.from },
    ...(buildScript !== undefined && { buildScript }),
    base: args.base
      ? { ref: args.base }
      : {
          variant,
          suites: baseConfig.suites,
          ...(base.lock && {
            packages: Object.fromEntries(
              Object.entries(base.lock.architectures).map(([a, l]) => [
                a,
                l.map((p) => `${p.name}=${p.version}`),
              ]),
            ),
          }),
        },
    platforms: archs.map((a) => formatPlatform(debianToOci(a))),
    cmd: {
      args: cmdChoice.args,
      from: cmdChoice.from,
      ...(cmdChoice.kind === 'bin' && { bin: cmdChoice.bin }),
    },
    entrypoint,
    user: args.user ?? '65532:65532',
    workdir,
    env,
    ports: args.ports,
    layers: [
      args.base
        ? `base ${args.base}`
        : 'Debian packages (OS): libc, libstdc++, libgcc, time zones, CA bundle',
      ...(args.debug ? ['busybox toolbox (--debug)'] : []),
      `Node.js ${nodeVersion}`,
      `node_modules (${pmName} ${pmVersionSpec}, production only)`,
      `app files${buildScript !== undefined ? ` after "${buildScript}"` : ''}`,
    ],
    outputs,
  };
  const dockerName = `${name}:${tag}`;
  if (planOnly) return { plan, dockerName };

  const ctxFiles = await appContext(dir);
  const git = gitInfo(dir);
  const created = new Date(
    (ctx.env.SOURCE_DATE_EPOCH !== undefined && ctx.env.SOURCE_DATE_EPOCH !== ''
      ? sourceDateEpoch
      : (git.time ?? 0)) * 1000,
  )
    .toISOString()
    .replace(/\.000Z$/, 'Z');
  const labels: Record<string, string> = {
    'org.opencontainers.image.title': name,
    ...(app.packageJson.version !== undefined && {
      'org.opencontainers.image.version': String(app.packageJson.version),
    }),
    ...(git.revision !== undefined && { 'org.opencontainers.image.revision': git.revision }),
    ...(git.source !== undefined && { 'org.opencontainers.image.source': git.source }),
    'org.opencontainers.image.created': created,
  };
  const installNeedsWholeApp =
    ws !== undefined ||
    root.packageJson.workspaces !== undefined ||
    // A dependency from a local path (file:, link:, portal:) is read from the app directory.
    [root.packageJson, app.packageJson].some((p) =>
      [p.dependencies, p.devDependencies, p.optionalDependencies as Record<string, string> | undefined].some(
        (deps) =>
          Object.values(deps ?? {}).some((v) => typeof v === 'string' && /^(file|link|portal):/.test(v)),
      ),
    ) ||
    ['preinstall', 'install', 'postinstall', 'prepare'].some(
      (s) => root.packageJson.scripts?.[s] !== undefined,
    );

  const images: Image[] = [];
  // Scratch copies being removed while the rest of the build goes on.
  const cleanups: Promise<void>[] = [];
  try {
    for (const arch of archs) {
      const nodeArch = debianToNodeArch(arch);
      const host = hostArch() === arch;
      step(`${arch}: Node ${nodeVersion}`);
      const rt = await fetchNodeRuntime(nodeVersion, nodeArch, nodeOpts);
      const nodeLayer = await cachedLayer(store, nodeCacheableEntries(rt, store), { sourceDateEpoch });
      const baseImage = appendLayers(base.images.get(arch)!, {
        layer: nodeLayer,
        history: { created_by: `distill build: Node.js ${nodeVersion}` },
      });
      const toolchain = async (): Promise<Toolchain> => {
        // A foreign architecture's packages are installed by the host's Node of the same version
        // (same ABI); anything that compiles would compile for the host, which the native check
        // then reports.
        const hostNode = debianToNodeArch(hostArch());
        step(`toolchain: Node ${nodeVersion} (linux/${hostNode}) and ${pmName} ${pmVersionSpec}`);
        const [nodeDir, tool] = await Promise.all([
          nodeToolchainDir(nodeVersion, hostNode, nodeOpts),
          remembered(store, `build-pm:v1:${pmName}:${pmVersionSpec}:${nodeVersion}`, args.pull, async () => {
            return (await resolvePackageManager(pmName, pmVersionSpec, nodeVersion, nodeOpts)).version;
          }).then((exact) => fetchPackageManager(pmName, exact, nodeVersion, nodeOpts)),
        ]);
        return { nodeDir, pm: tool, cacheDir: store.area('pm-cache') };
      };
      const libraries = base.libraries.get(arch);
      const baseLibc = base.libc?.get(arch);
      const glibc = base.lock ? glibcOf(base.lock, arch) : (baseLibc?.version ?? undefined);
      const target: NativeTarget = {
        arch,
        ...(glibc !== undefined && { glibcVersion: glibc }),
        libraries: libraries ?? new Map(),
        ...(base.suggest && { suggestPackage: base.suggest(arch) }),
        ...(libraries === undefined && { skipLibraries: true }),
        ...(args.base !== undefined && {
          missingAdvice: `use a base image that has it (${args.base} does not)`,
        }),
      };
      if (args.base !== undefined) {
        // Node itself must load in a base distill did not make.
        if (baseLibc !== undefined && baseLibc.family !== 'glibc') {
          throw new DistillError(
            'NATIVE_ADDON_INVALID',
            `${args.base} has ${baseLibc.family === 'musl' ? 'musl as its libc (an Alpine-like image)' : 'no libc'} for linux/${arch}, but the official Node binary needs glibc; use a glibc base (Debian, Ubuntu, distroless cc) or leave out --base`,
          );
        }
        const file = store.blobPath(rt.binary.digest);
        const r = await checkNativeFiles(
          [{ path: 'nodejs/bin/node', size: rt.binary.size, read: (o, l) => readAt(file, o, l) }],
          target,
        );
        if (r.problems.length > 0) {
          throw new DistillError(
            'NATIVE_ADDON_INVALID',
            `Node ${nodeVersion} would not run on ${args.base}: ${r.problems.map((p) => p.message).join('; ')}`,
          );
        }
      }
      const layers: AppLayers = await buildAppLayers({
        ctx: ctxFiles,
        steps: {
          ...(buildScript !== undefined && { buildScript }),
          ...(args.workspace !== undefined && { workspace: args.workspace }),
          ...(!host && { targetArch: nodeArch }),
        },
        installNeedsWholeApp,
        lockfileName: root.lockfiles[0] ?? 'the lockfile',
        keyParts: {
          pm: `${pmName}@${pmVersionSpec}`,
          node: nodeVersion,
          abi: rt.abi,
          arch,
          base: base.lock ? digestOf(JSON.stringify(base.lock.architectures[arch] ?? [])) : (args.base ?? ''),
        },
        ...(cmdChoice.kind === 'bin' && { bin: cmdChoice.bin }),
        toolchain,
        inspectInstall: async (scratch) => {
          const files = await findElfFiles(join(scratch));
          if (files.length === 0) return;
          step(`checking ${files.length} native files against linux/${arch}`);
          const r = await checkNativeFiles(
            files.map((f) => ({ ...f, path: `app/${f.path}` })),
            target,
          );
          if (r.problems.length > 0) {
            throw new DistillError(
              'NATIVE_ADDON_INVALID',
              r.problems.length === 1
                ? r.problems[0]!.message
                : `${r.problems.length} native files would not load in the image:\n${r.problems.map((p) => `  - ${p.message}`).join('\n')}`,
            );
          }
        },
        store,
        sourceDateEpoch,
        env: ctx.env,
        report: {
          step,
          ...(ctx.env.DISTILL_VERBOSE && { output: (s: string) => process.stderr.write(s) }),
        },
      });
      if (layers.cleanup) cleanups.push(layers.cleanup);
      const cmd = cmdChoice.kind === 'bin' ? [layers.binPath!, ...cmdChoice.args] : cmdChoice.args;
      images.push(
        assembleAppImage(
          baseImage,
          layers,
          {
            created,
            entrypoint,
            cmd,
            user: args.user ?? '65532:65532',
            workdir,
            env,
            ports: args.ports,
            labels,
            ...(args.healthcheck !== undefined && {
              healthcheck: healthcheckScript(args.healthcheck, args.ports),
            }),
          },
          {
            nodeModules: `distill build: node_modules (${pmName} ${pmVersionSpec}, production)`,
            app: `distill build: app files${buildScript !== undefined ? ` after ${buildScript}` : ''}`,
          },
        ),
      );
      plan.cmd.args = cmd;
    }
    const artifact: Artifact = images.length === 1 ? images[0]! : buildIndex(images);
    // distill's own layout: earlier builds' app layers and manifests are dropped.
    const published = await publish(artifact, outputs, {
      ...ctx.media,
      store,
      progress: reporter,
      prune: [defaultOut],
    });
    const removed = published.find((p) => p.ref === defaultOut)?.pruned ?? 0;
    if (removed > 0) step(`removed ${removed} blobs of earlier builds from .distill/image`);
    return { plan, artifact, dockerName, published };
  } finally {
    await Promise.all(cleanups);
  }
}

function hostArch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

async function resolveBase(
  args: BuildArgs,
  baseArgs: BaseArgs,
  config: BaseConfig,
  ctx: BaseContext,
  sourceDateEpoch: number,
  planOnly: boolean,
): Promise<BaseResult> {
  const { store } = ctx;
  const step = (m: string) => ctx.reporter.step?.(m);
  if (args.base !== undefined) {
    step(`reading the base ${args.base}`);
    const art = await openArtifact(parseImageRef(args.base), { ...ctx.media, store });
    const images = new Map<string, Image>();
    const libraries = new Map<string, Map<string, string>>();
    const libc = new Map<string, BaseLibc>();
    for (const arch of config.archs) {
      const sel = await selectPlatform(art, debianToOci(arch));
      if (sel.kind !== 'image')
        throw new DistillError('PLATFORM_NOT_FOUND', `${args.base} has no linux/${arch} image`);
      images.set(arch, sel);
      if (planOnly) continue;
      const files = await baseFiles(store, sel);
      libraries.set(arch, new Map(files.libraries));
      libc.set(arch, files.libc);
    }
    return { images, libraries, libc };
  }
  let apt: Awaited<ReturnType<typeof aptSource>> | undefined;
  const getApt = async () => {
    apt ??= await aptSource(baseArgs, ctx, config.suites);
    return apt;
  };
  const request = JSON.stringify({
    variant: config.variant,
    packages: config.packages,
    debug: config.debug,
    archs: config.archs,
    suites: config.suites,
    node: config.node,
    mirror: args.mirrors ?? '',
  });
  step(`resolving the base: ${config.variant} packages from ${config.suites.join(', ')}`);
  const lock = await remembered(store, `build-base-lock:v1:${request}`, args.pull, async () =>
    lockBaseCached(config, planSources(await getApt(), baseArgs, ctx, config.archs), await getApt(), ctx),
  );
  const suggest = (arch: string) => async (soname: string) => {
    const candidates = debianPackageCandidates(soname);
    const a = await getApt();
    for (const suite of config.suites) {
      const found = await a.packagesNamed(suite, arch, new Set(candidates)).catch(() => undefined);
      const names = new Set(found?.packages.map((p) => p.name) ?? []);
      const hit = candidates.find((c) => names.has(c));
      if (hit) return hit;
    }
    return undefined;
  };
  if (planOnly) return { images: new Map(), lock, libraries: new Map(), suggest };
  const images = new Map<string, Image>();
  const libraries = new Map<string, Map<string, string>>();
  const imageKey = `build-base-image:v1:${digestOf(JSON.stringify({ lock, request, sourceDateEpoch }))}`;
  const known = await store.getMeta<Record<string, ImageRecord>>(imageKey);
  for (const arch of config.archs) {
    const rec = known?.[arch];
    const img = rec ? await loadStoredImage(store, rec) : undefined;
    if (img) images.set(arch, img);
  }
  if (images.size !== config.archs.length) {
    const a = await getApt();
    const art = await buildBase(
      lock,
      config,
      { store, fetchDeb: (p) => a.fetchDeb(p), step, warn: ctx.warn },
      { sourceDateEpoch, withoutNode: true },
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
    await store.putMeta(imageKey, recs);
  }
  // The shared libraries the base has, from the packages' file lists (cached per .deb).
  for (const arch of config.archs) {
    const libs = new Map<string, string>();
    for (const p of lock.architectures[arch] ?? []) {
      const deb =
        (await store.size(`sha256:${p.sha256}` as Digest)) === p.size
          ? { digest: `sha256:${p.sha256}` as Digest, size: p.size }
          : await (await getApt()).fetchDeb(p);
      const contents = await unpackDeb(store, deb, `${p.name}_${p.version}_${p.architecture}.deb`);
      for (const [soname, path] of librariesOf(contents.entries)) libs.set(soname, path);
    }
    libraries.set(arch, libs);
  }
  return { images, lock, libraries, suggest };
}
