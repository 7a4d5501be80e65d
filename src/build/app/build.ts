import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAborted, DistillError } from '../../errors.js';
import { buildLayer } from '../../layers/build.js';
import { entriesFromDirectory } from '../../layers/directory.js';
import type { LayerEntry } from '../../layers/entries.js';
import { type Digest, digestOf } from '../../oci/digest.js';
import type { Layer } from '../../oci/image.js';
import type { Descriptor } from '../../oci/types.js';
import { APP_DIR } from '../../plan/layout.js';
import { DIR_MODE } from '../../store/modes.js';
import type { Store } from '../../store/store.js';
import { type AppContext, copyContext } from './context.js';
import { type InstallSteps, runInstall, type StepReport, type Toolchain } from './install.js';
import { gypIntermediates, nodeModulesDirs, resolveBin } from './nodemodules.js';
import { outOfSpace, type ScratchRoot, scratchRoots } from './scratch.js';
import { claimScratch, releaseScratch, sweepScratch } from './sweep.js';

/**
 * `distill build` for one platform: the base (OS and Node layers, made by the caller), then the
 * production `node_modules` layer and the app's own files. The node_modules layer is cached by
 * what the install reads (package.json, lockfiles, package manager config), the package manager,
 * the Node version, the platform and the base; when nothing of that changed and there is no build
 * script, no install runs at all and only the app layer is made.
 */

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
  /** Both layers from a framework's self-contained build output instead (standalone.ts); nothing cached. */
  output?(scratch: string): Promise<{ nodeModules: Layer; app: Layer }>;
  store: Store;
  sourceDateEpoch: number;
  env: NodeJS.ProcessEnv;
  report: StepReport;
  signal?: AbortSignal;
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
  return digestOf(JSON.stringify({ files, steps: spec.steps, bin: spec.bin ?? null, ...spec.keyParts }));
}

/**
 * A scratch copy's directory under `root`, claimed for this process (see sweep.ts), after the
 * copies of killed builds there are swept. Its name depends only on what is installed (and on
 * the root chosen), so that anything an install records about where it ran is the same from one
 * build to the next; another name beside it when that one is in use.
 */
async function scratchDir(root: string, key: string): Promise<string> {
  const parent = join(root, 'distill-build');
  await mkdir(parent, { recursive: true, mode: DIR_MODE });
  await sweepScratch(parent);
  const stable = digestOf(key).slice(7, 23);
  if (await claimScratch(parent, stable)) return join(parent, stable);
  for (;;) {
    const other = `${stable}-${randomBytes(4).toString('hex')}`;
    if (await claimScratch(parent, other)) return join(parent, other);
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
    checkAborted(spec.signal);
    const root = roots[i] as ScratchRoot;
    // Named after the digest of everything installed, with the prefix the name always had, so
    // the paths an install may record are the same as ever.
    const scratch = await scratchDir(root.dir, `app-node-modules:v2:${key}`);
    const remove = () => releaseScratch(scratch);
    try {
      const copied = await copyContext(spec.ctx, scratch, whole ? undefined : INSTALL_INPUTS);
      checkAborted(spec.signal);
      spec.report.step(
        `copied ${copied} files of ${spec.ctx.dir} into ${scratch}${root.ram ? ' (RAM)' : ''}`,
      );
      await runInstall(scratch, tc, spec.steps, spec.report, spec.env, spec.lockfileName, spec.signal);
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

type EntryInfo = { type: string; size: number };

function appEntries(
  dir: string,
  ignore: (rel: string, isDir: boolean, info: EntryInfo) => boolean,
): Promise<LayerEntry[]> {
  return entriesFromDirectory(dir, {
    prefix: APP_DIR,
    ignore: (rel, info) => ignore(rel, info.type === 'dir', info),
  });
}

function storedLayer(store: Store, r: { descriptor: Descriptor; diffId: Digest }): Layer {
  return {
    descriptor: r.descriptor,
    diffId: r.diffId,
    diffIdChecked: true, // recorded from buildLayer, which computed it from these bytes
    open: () => store.open(r.descriptor.digest, r.descriptor.size),
    file: store.blobPath(r.descriptor.digest),
  };
}

/** The app's own files, as the app directory has them (no build script ran), but secrets (secrets.ts). */
function sourceAppLayer(spec: AppBuildSpec): Promise<Layer> {
  const { ctx } = spec;
  return appEntries(
    ctx.dir,
    (rel, isDir, info) => ctx.ignores(rel, isDir) || ctx.secrets.leavesOut(ctx.dir, rel, info),
  ).then((entries) => buildLayer(entries, { store: spec.store, sourceDateEpoch: spec.sourceDateEpoch }));
}

/**
 * The two layers from an install's scratch copy: node_modules (checked by inspectInstall while
 * it is built, recorded only once the check passed) and, after a build script, the app with its
 * build's output.
 */
async function layersFromScratch(
  spec: AppBuildSpec,
  key: string,
  scratch: string,
): Promise<{ record: NodeModulesRecord; app: Layer }> {
  const { store, sourceDateEpoch } = spec;
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
  const record: NodeModulesRecord = {
    descriptor: layer.value.descriptor,
    diffId: layer.value.diffId,
    ...(binPath !== undefined && { binPath }),
  };
  await store.record('node-modules').put({ install: key }, record);
  checkAborted(spec.signal);
  // The build's output is part of the app: everything in the scratch copy but node_modules (and
  // secrets, secrets.ts).
  const outputOnly = (rel: string, _: boolean, info: EntryInfo) =>
    rel === '.distill-bin' || inNm(rel) || spec.ctx.secrets.leavesOut(scratch, rel, info);
  const app =
    spec.steps.buildScript !== undefined
      ? await buildLayer(await appEntries(scratch, outputOnly), { store, sourceDateEpoch })
      : await sourceAppLayer(spec);
  return { record, app };
}

export async function buildAppLayers(spec: AppBuildSpec): Promise<AppLayers> {
  const { store } = spec;
  const key = await installKey(spec);
  const hit = await store
    .record('node-modules')
    .get({ install: key }, { usable: (r) => store.has(r.descriptor.digest) });
  if (hit && spec.steps.buildScript === undefined && spec.output === undefined) {
    spec.report.step('node_modules: cached (package.json and lockfile unchanged)');
    return {
      nodeModules: storedLayer(store, hit),
      app: await sourceAppLayer(spec),
      cached: true,
      ...(hit.binPath !== undefined && { binPath: hit.binPath }),
    };
  }
  const { scratch, remove: cleanup } = await installInScratch(spec, key);
  let built = false;
  try {
    if (spec.output) {
      const layers = await spec.output(scratch);
      built = true;
      return { ...layers, cached: false, cleanup: cleanup() };
    }
    const { record, app } = await layersFromScratch(spec, key, scratch);
    built = true;
    return {
      nodeModules: storedLayer(store, record),
      app,
      cached: false,
      cleanup: cleanup(),
      ...(record.binPath !== undefined && { binPath: record.binPath }),
    };
  } finally {
    if (!built) await cleanup();
  }
}
