import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { DistillError } from '../../errors.js';
import { buildLayer } from '../../layers/build.js';
import { entriesFromDirectory, type LayerEntry } from '../../layers/entries.js';
import { type Digest, digestOf } from '../../oci/digest.js';
import type { Image, Layer } from '../../oci/image.js';
import { appendLayers, setContainerConfig, setImageConfig } from '../../oci/mutate.js';
import type { ContainerConfig, Descriptor } from '../../oci/types.js';
import type { Store } from '../../store/store.js';
import { type AppContext, copyContext } from './context.js';
import { type InstallSteps, runInstall, type StepReport, type Toolchain } from './install.js';
import { outOfSpace, type ScratchRoot, scratchRoots, trackScratch } from './scratch.js';

/**
 * `distill build` for one platform: the base (OS and Node layers, made by the caller), then the
 * production `node_modules` layer and the app's own files. The node_modules layer is cached by
 * what the install reads (package.json, lockfiles, package manager config), the package manager,
 * the Node version, the platform and the base; when nothing of that changed and there is no build
 * script, no install runs at all and only the app layer is made.
 */
export const APP_DIR = '/app';

/** Files an install reads besides the lockfile; when the app has none of them, they are absent. */
export const INSTALL_INPUTS = [
  'package.json',
  'package-lock.json',
  'npm-shrinkwrap.json',
  'pnpm-lock.yaml',
  'pnpm-workspace.yaml',
  'yarn.lock',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pnpmfile.cjs',
  '.yarn/releases',
  '.yarn/plugins',
  '.yarn/patches',
  'patches',
];

export interface AppBuildSpec {
  ctx: AppContext;
  steps: InstallSteps;
  /** Whether the install needs every app file (lifecycle scripts of the app, workspaces). */
  installNeedsWholeApp: boolean;
  lockfileName: string;
  /** Key parts that are not files: package manager spec, Node version, platform, base. */
  keyParts: Record<string, string>;
  /** A dependency's bin whose file the command runs (`next` of `next start`). */
  bin?: string;
  toolchain(): Promise<Toolchain>;
  /** Reads the installed node_modules before it goes (native addon check). */
  inspectInstall?(dir: string): Promise<void>;
  store: Store;
  sourceDateEpoch: number;
  env: NodeJS.ProcessEnv;
  report: StepReport;
}

interface NodeModulesRecord {
  descriptor: Descriptor;
  diffId: Digest;
  /** Where `bin` resolved, relative to the app directory. */
  binPath?: string;
}

export interface AppLayers {
  nodeModules: Layer;
  app: Layer;
  /** Whether node_modules came from the cache (no install ran). */
  cached: boolean;
  binPath?: string;
  /**
   * Removal of the scratch copy the install ran in, started when the layers were done and left
   * to run while the image is written; await it before exiting.
   */
  cleanup?: Promise<void>;
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

async function installKey(spec: AppBuildSpec): Promise<string> {
  const files: Record<string, string> = {};
  for (const rel of INSTALL_INPUTS) {
    const p = join(spec.ctx.dir, rel);
    const st = await lstat(p).catch(() => undefined);
    if (!st) continue;
    if (st.isFile()) files[rel] = digestOf(await readFile(p));
    else if (st.isDirectory()) {
      for (const e of await entriesFromDirectory(p)) {
        if (e.type === 'file' && e.source.kind === 'path') {
          files[`${rel}/${e.path}`] = digestOf(await readFile(e.source.path));
        }
      }
    }
  }
  return `app-node-modules:v2:${digestOf(
    JSON.stringify({ files, steps: spec.steps, bin: spec.bin ?? null, ...spec.keyParts }),
  )}`;
}

// The walks below use synchronous readdir: they visit every directory of a node_modules one
// after another, and through fs/promises each visit is a round trip to libuv's thread pool;
// synchronous, a node_modules of 1,000 directories takes milliseconds instead of a tenth of a second.

/** Directories named node_modules (not inside another), relative to `dir`. */
function nodeModulesDirs(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.name === 'node_modules') out.push(r);
    else if (e.name !== '.git' && e.name !== '.distill-bin') out.push(...nodeModulesDirs(dir, r));
  }
  return out;
}

/**
 * node-gyp leaves object files, Makefiles and a config.gypi with absolute paths of the build
 * machine in an addon's build/ directory; only the compiled `.node` files are needed at run time,
 * and leaving the rest out keeps the layer the same from one machine to another.
 */
function gypIntermediates(dir: string, nmDirs: string[]): Set<string> {
  const drop = new Set<string>();
  const visit = (rel: string): void => {
    const entries = readdirSync(join(dir, rel), { withFileTypes: true });
    const names = new Set(entries.map((e) => e.name));
    if (names.has('binding.gyp') && names.has('build')) {
      const keep = (sub: string): boolean => {
        let any = false;
        for (const e of readdirSync(join(dir, sub), { withFileTypes: true })) {
          const r = `${sub}/${e.name}`;
          if (e.isDirectory()) {
            if (keep(r)) any = true;
            else drop.add(r);
          } else if (e.name.endsWith('.node')) any = true;
          else drop.add(r);
        }
        return any;
      };
      keep(`${rel}/build`);
    }
    for (const e of entries) if (e.isDirectory() && e.name !== 'build') visit(`${rel}/${e.name}`);
  };
  for (const nm of nmDirs) visit(nm);
  return drop;
}

/** The file a dependency's bin runs, from the top-level packages' package.json `bin` fields. */
async function resolveBin(dir: string, bin: string): Promise<string | undefined> {
  const nm = join(dir, 'node_modules');
  const names: string[] = [];
  for (const e of await readdir(nm).catch(() => [] as string[])) {
    if (e.startsWith('.')) continue;
    if (e.startsWith('@')) {
      for (const s of await readdir(join(nm, e)).catch(() => [] as string[])) names.push(`${e}/${s}`);
    } else names.push(e);
  }
  for (const name of names.sort()) {
    let pkg: { bin?: unknown; name?: unknown };
    try {
      pkg = JSON.parse(await readFile(join(nm, name, 'package.json'), 'utf8')) as typeof pkg;
    } catch {
      continue;
    }
    let file: unknown;
    if (typeof pkg.bin === 'string') {
      const short = typeof pkg.name === 'string' ? pkg.name.replace(/^@[^/]+\//, '') : name;
      if (short === bin) file = pkg.bin;
    } else if (pkg.bin && typeof pkg.bin === 'object') file = (pkg.bin as Record<string, unknown>)[bin];
    if (typeof file === 'string') return posix.normalize(`node_modules/${name}/${file}`);
  }
  return undefined;
}

async function scratchDir(root: string, key: string): Promise<string> {
  // A path that depends only on what is installed (and on the root chosen), so that anything an
  // install records about where it ran is the same from one build to the next.
  const parent = join(root, 'distill-build');
  await mkdir(parent, { recursive: true });
  const stable = join(parent, digestOf(key).slice(7, 23));
  try {
    await mkdir(stable);
    return stable;
  } catch {
    const other = join(parent, `${digestOf(key).slice(7, 23)}-${randomBytes(4).toString('hex')}`);
    await mkdir(other);
    return other;
  }
}

/**
 * Copies the app into a scratch directory and installs there: in RAM when the machine has room
 * (see scratch.ts), again on disk if that runs out of space. Returns the directory, which the
 * caller removes.
 */
async function installInScratch(
  spec: AppBuildSpec,
  key: string,
): Promise<{ scratch: string; remove: () => Promise<void> }> {
  const roots = await scratchRoots(spec.env);
  const tc = await spec.toolchain();
  const whole = spec.steps.buildScript !== undefined || spec.installNeedsWholeApp;
  for (let i = 0; ; i++) {
    const root = roots[i] as ScratchRoot;
    const scratch = await scratchDir(root.dir, key);
    const remove = trackScratch(scratch);
    try {
      const copied = await copyContext(spec.ctx, scratch, whole ? undefined : INSTALL_INPUTS);
      spec.report.step(
        `copied ${copied} files of ${spec.ctx.dir} into ${scratch}${root.ram ? ' (RAM)' : ''}`,
      );
      await runInstall(scratch, tc, spec.steps, spec.report, spec.env, spec.lockfileName);
      return { scratch, remove };
    } catch (err) {
      await remove();
      if (!outOfSpace(err)) throw err;
      const next = roots[i + 1];
      if (!root.ram || next === undefined) {
        throw new DistillError(
          'APP_BUILD_FAILED',
          `${root.dir} ran out of space during the install; free some space there, or set DISTILL_SCRATCH to a directory with more room\n${err instanceof Error ? err.message : String(err)}`,
          { cause: err },
        );
      }
      spec.report.step(`${root.dir} ran out of space; installing again under ${next.dir}`);
    }
  }
}

function appEntries(dir: string, ignore: (rel: string, isDir: boolean) => boolean): Promise<LayerEntry[]> {
  return entriesFromDirectory(dir, {
    prefix: APP_DIR,
    ignore: (rel, info) => ignore(rel, info.type === 'dir'),
  });
}

export async function buildAppLayers(spec: AppBuildSpec): Promise<AppLayers> {
  const { store, sourceDateEpoch } = spec;
  const key = await installKey(spec);
  const layerOf = (r: { descriptor: Descriptor; diffId: Digest }): Layer => ({
    descriptor: r.descriptor,
    diffId: r.diffId,
    diffIdChecked: true, // recorded from buildLayer, which computed it from these bytes
    open: () => store.open(r.descriptor.digest, r.descriptor.size),
    file: store.blobPath(r.descriptor.digest),
  });
  const sourceApp = () =>
    appEntries(spec.ctx.dir, (rel, isDir) => spec.ctx.ignores(rel, isDir)).then((entries) =>
      buildLayer(entries, { store, sourceDateEpoch }),
    );

  const hit = await store.getMeta<NodeModulesRecord>(key);
  if (hit && spec.steps.buildScript === undefined && (await store.has(hit.descriptor.digest))) {
    spec.report.step('node_modules: cached (package.json and lockfile unchanged)');
    return {
      nodeModules: layerOf(hit),
      app: await sourceApp(),
      cached: true,
      ...(hit.binPath !== undefined && { binPath: hit.binPath }),
    };
  }

  const { scratch, remove: cleanup } = await installInScratch(spec, key);
  let built = false;
  try {
    // The native check runs while the layer is built; the layer is recorded only once it passed.
    const checked = Promise.resolve(spec.inspectInstall?.(scratch));
    checked.catch(() => {});
    const nmDirs = nodeModulesDirs(scratch);
    const drop = gypIntermediates(scratch, nmDirs);
    const inNm = (rel: string) => nmDirs.some((d) => rel === d || rel.startsWith(`${d}/`));
    const aboveNm = (rel: string) => nmDirs.some((d) => d.startsWith(`${rel}/`));
    const nmEntries = await appEntries(scratch, (rel, isDir) =>
      drop.has(rel) ? true : inNm(rel) ? false : !(isDir && aboveNm(rel)),
    );
    spec.report.step(`node_modules: layering ${nmEntries.length} entries`);
    const binPath = spec.bin !== undefined ? await resolveBin(scratch, spec.bin) : undefined;
    if (spec.bin !== undefined && binPath === undefined) {
      throw new DistillError(
        'APP_CMD_UNKNOWN',
        `scripts.start runs "${spec.bin}", but no installed dependency provides a bin of that name; add the package that provides it to "dependencies", or set "distill": {"cmd": [...]} in package.json`,
      );
    }
    const [layer, check] = await Promise.allSettled([
      buildLayer(nmEntries, { store, sourceDateEpoch }),
      checked,
    ]);
    if (check.status === 'rejected') throw check.reason;
    if (layer.status === 'rejected') throw layer.reason;
    const nm = layer.value;
    const record: NodeModulesRecord = {
      descriptor: nm.descriptor,
      diffId: nm.diffId,
      ...(binPath !== undefined && { binPath }),
    };
    await store.putMeta(key, record);
    let app: Layer;
    if (spec.steps.buildScript !== undefined) {
      // The build's output is part of the app: everything in the scratch copy but node_modules.
      const entries = await appEntries(scratch, (rel) => rel === '.distill-bin' || inNm(rel));
      app = await buildLayer(entries, { store, sourceDateEpoch });
    } else {
      app = await sourceApp();
    }
    built = true;
    return {
      nodeModules: layerOf(record),
      app,
      cached: false,
      cleanup: cleanup(),
      ...(binPath !== undefined && { binPath }),
    };
  } finally {
    if (!built) await cleanup();
  }
}

export interface AppImageConfig {
  created: string;
  entrypoint: string[];
  cmd: string[];
  user: string;
  workdir: string;
  env: string[];
  ports: string[];
  labels: Record<string, string>;
  healthcheck?: string[];
  stopSignal?: string;
}

/** The base (OS + Node) with the two app layers and the container config. */
export function assembleAppImage(
  base: Image,
  layers: { nodeModules: Layer; app: Layer },
  config: AppImageConfig,
  describe: { nodeModules: string; app: string },
): Image {
  let image = setImageConfig(base, { created: config.created });
  image = appendLayers(
    image,
    { layer: layers.nodeModules, history: { created: config.created, created_by: describe.nodeModules } },
    { layer: layers.app, history: { created: config.created, created_by: describe.app } },
  );
  const patch: Partial<ContainerConfig> = {
    Entrypoint: config.entrypoint,
    Cmd: config.cmd,
    User: config.user,
    WorkingDir: config.workdir,
    Env: config.env,
    Labels: config.labels,
  };
  if (config.ports.length > 0) {
    patch.ExposedPorts = Object.fromEntries(
      config.ports.map((p) => [p.includes('/') ? p : `${p}/tcp`, {} as Record<string, never>]),
    );
  }
  if (config.healthcheck) {
    patch.Healthcheck = {
      Test: ['CMD', ...config.healthcheck],
      Interval: 30_000_000_000,
      Timeout: 5_000_000_000,
      StartPeriod: 5_000_000_000,
      Retries: 3,
    };
  }
  if (config.stopSignal) patch.StopSignal = config.stopSignal;
  return setContainerConfig(image, patch);
}

export { exists as pathExists };
