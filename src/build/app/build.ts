import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { checkAborted, DistillError } from '../../errors.js';
import type { LayerCompression } from '../../layers/compression.js';
import { digestOf } from '../../oci/digest.js';
import type { Layer } from '../../oci/image.js';
import { INSTALL_INPUTS } from '../../plan/builder.js';
import { PRUNE_RULES_VERSION } from '../../plan/prune-rules.js';
import { TRACE_VERSION } from '../../plan/trace.js';
import { DIR_MODE } from '../../store/modes.js';
import type { Store } from '../../store/store.js';
import { storedLayer } from '../layercache.js';
import {
  builtAppLayer,
  type LayerSpec,
  type NodeModulesRecord,
  nodeModulesLayer,
  sourceAppLayer,
} from './applayers.js';
import { builtHit, builtKey, builtLayers, rememberBuilt } from './built.js';
import { type AppContext, copyContext } from './context.js';
import { installOutputs, outputsManifest, type PendingSave, restoreDevTree, startSave } from './devtree.js';
import {
  type Builder,
  type InstallSteps,
  makeBuilder,
  runPhases,
  type StepReport,
  type Toolchain,
} from './install.js';
import { appFilesOnce, installKeys } from './keys.js';
import { outOfSpace, type ScratchRoot, scratchRoots } from './scratch.js';
import { runBuildScript } from './script-replay.js';
import { claimScratch, releaseScratch, sweepScratch } from './sweep.js';
import { changedPaths } from './treecopy.js';

/**
 * `distill build` for one platform: the base (OS and Node layers, made by the caller), then the
 * production `node_modules` layer and the app's own files, cached by meaning (keys.ts):
 * - without a build script, the node_modules layer is a record keyed by what the install reads;
 *   when nothing of that changed, no install runs and only the app layer is made;
 * - with one, the full install it runs on is kept too (devtree.ts): a code change copies it
 *   into the scratch copy and reruns only the build script, and the production node_modules is
 *   the recorded layer again when the build left node_modules as the install made it; else the
 *   prune runs (pmcommands.ts) on the built tree.
 */
export { INSTALL_INPUTS };

export interface AppBuildSpec {
  ctx: AppContext;
  steps: InstallSteps;
  /** Whether the install needs every app file (lifecycle scripts of the app, workspaces). */
  installNeedsWholeApp: boolean;
  lockfileName: string;
  /** What the install reads, relative to the app (the plan's install.inputs). */
  inputs?: readonly string[];
  /** Every file of the app is an input of the install (the plan's install.wholeApp). */
  wholeApp?: boolean;
  /** Key parts that are not files: package manager spec, Node version, platform, base. */
  keyParts: Record<string, string>;
  /** A dependency's bin whose file the command runs (`next` of `next start`). */
  bin?: string;
  /** The safe prune of the node_modules layer (src/plan/prune-rules.ts), on by the plan's default. */
  prune?: boolean;
  /** `--trace`: node_modules keeps what the app reaches from these entries (src/plan/trace.ts). */
  trace?: LayerSpec['trace'];
  toolchain(): Promise<Toolchain>;
  /** Reads the installed node_modules before it goes (native addon check). */
  inspectInstall?(dir: string): Promise<void>;
  /**
   * Both layers from a framework's self-contained build output instead (Next's standalone
   * server, Nitro's .output; h13's standalone.ts): called after the build script with the
   * scratch copy; no prune runs and nothing of it is recorded (the full install is still kept).
   */
  output?(scratch: string): Promise<{ nodeModules: Layer; app: Layer }>;
  /** What decides `output` (the framework's plan), for the builder step's remembered result (built.ts). */
  outputKey?: string;
  store: Store;
  sourceDateEpoch: number;
  /** How the layers are compressed (default gzip 6). */
  compression?: LayerCompression;
  env: NodeJS.ProcessEnv;
  report: StepReport;
  signal?: AbortSignal;
}

export interface AppLayers {
  nodeModules: Layer;
  app: Layer;
  /** Whether node_modules came from the cache (no install ran). */
  cached: boolean;
  /** Whether the full install came from the cache (no install ran before the build script). */
  devCached?: boolean;
  binPath?: string;
  /**
   * Removal of the scratch copy the install ran in, started when the layers were done and left
   * to run while the image is written; await it before exiting.
   */
  cleanup?: Promise<void>;
}

/**
 * A scratch copy's directory under `root`, claimed for this process (see sweep.ts), after the
 * copies of killed builds there are swept. Its name depends only on what is installed (and on
 * the root chosen), so that anything an install or a build records about where it ran is the
 * same from one build to the next; another name beside it when that one is in use.
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
 * Copies the app into a scratch directory and runs `work` there: in RAM when the machine has
 * room (see scratch.ts), again on disk if that runs out of space. Returns what `work` made and
 * the removal of the copy, started.
 */
async function inScratch<T>(
  spec: AppBuildSpec,
  key: string,
  whole: boolean,
  work: (b: Builder) => Promise<T>,
): Promise<T & { cleanup: Promise<void> }> {
  const roots = await scratchRoots(spec.env);
  const tc = await spec.toolchain();
  for (let i = 0; ; i++) {
    checkAborted(spec.signal);
    const root = roots[i] as ScratchRoot;
    const scratch = await scratchDir(root.dir, key);
    const remove = () => releaseScratch(scratch);
    try {
      const inputs = [...(spec.inputs ?? INSTALL_INPUTS)];
      const copied = await copyContext(spec.ctx, scratch, whole ? undefined : inputs);
      checkAborted(spec.signal);
      spec.report.step(
        `copied ${copied} files of ${spec.ctx.dir} into ${scratch}${root.ram ? ' (RAM)' : ''}`,
      );
      const b = await makeBuilder(
        scratch,
        tc,
        spec.steps,
        spec.report,
        spec.env,
        spec.lockfileName,
        spec.signal,
      );
      const value = await work(b);
      return { ...value, cleanup: remove() };
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

function layerSpec(spec: AppBuildSpec, pm?: Builder['tc']['pm']['name']): LayerSpec {
  return {
    ctx: spec.ctx,
    store: spec.store,
    sourceDateEpoch: spec.sourceDateEpoch,
    ...(spec.compression && { compression: spec.compression }),
    ...(spec.steps.workspaces && { workspaces: spec.steps.workspaces }),
    ...(spec.steps.workspaces && pm === 'yarn-classic' && { closure: true }),
    ...(spec.bin !== undefined && { bin: spec.bin }),
    ...(spec.prune && { prune: true }),
    ...(spec.trace && { trace: spec.trace }),
    ...(spec.inspectInstall && { inspectInstall: (d: string) => spec.inspectInstall!(d) }),
    step: (m) => spec.report.step(m),
  };
}

const MiB = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/**
 * The builder step with a build script, in `b`'s scratch copy of the whole app: the full
 * install (kept, or run and kept), the build script, then the production node_modules (recorded,
 * or pruned and recorded) and the app with the build's output.
 */
async function buildStep(
  spec: AppBuildSpec,
  keys: { dev: string; prod: string },
  hit: NodeModulesRecord | undefined,
  b: Builder,
): Promise<Omit<AppLayers, 'cleanup'>> {
  const { store } = spec;
  const step = (m: string) => spec.report.step(m);
  const restored = await restoreDevTree(store, keys.dev, b.dir);
  let outputs: readonly string[];
  let before: ReturnType<typeof outputsManifest>;
  let saving: PendingSave | undefined;
  if (restored) {
    outputs = restored.record.outputs;
    before = restored.manifest;
    step(
      `install: cached (what the install reads is unchanged): no install ran; copied the full install back (${restored.record.entries} entries, ${MiB(restored.record.bytes)})`,
    );
  } else {
    await runPhases(b, ['install']);
    outputs = installOutputs(b.dir, spec.ctx);
    before = outputsManifest(b.dir, outputs);
    const owner = {
      dir: spec.ctx.dir,
      workspace: spec.steps.workspace ?? null,
      arch: spec.keyParts.arch ?? '',
    };
    saving = startSave(store, owner, keys.dev, b.dir, outputs, before);
  }
  await runBuildScript(b, store);
  const changed = changedPaths(before, outputsManifest(b.dir, outputs));
  if (saving && (await saving.finish(changed.length === 0))) step('install: kept for the next build');
  if (spec.output) return { ...(await spec.output(b.dir)), cached: false, devCached: restored !== undefined };
  if (changed.length > 0) {
    step(
      `the build changed node_modules (${changed.slice(0, 3).join(', ')}${changed.length > 3 ? `, ${changed.length - 3} more` : ''}): the prune runs, and neither install is kept`,
    );
  }
  const ls = layerSpec(spec, b.tc.pm.name);
  let nm = changed.length === 0 ? hit : undefined;
  if (nm) step('node_modules: cached (the build left node_modules as the install made it)');
  else {
    await runPhases(b, ['prune']);
    nm = await nodeModulesLayer(ls, b.dir);
    if (changed.length === 0) await store.record('node-modules').put({ install: keys.prod }, nm);
  }
  checkAborted(spec.signal);
  const app = await builtAppLayer(ls, b.dir, outputs);
  return {
    nodeModules: storedLayer(store, nm),
    app,
    cached: nm === hit,
    devCached: restored !== undefined,
    ...(nm.binPath !== undefined && { binPath: nm.binPath }),
  };
}

/**
 * The builder step, or its remembered result when nothing it could read changed (built.ts):
 * neither the full install is copied back nor the build script run.
 */
async function builtOrBuild(
  spec: AppBuildSpec,
  keys: { dev: string; prod: string },
  hit: NodeModulesRecord | undefined,
  app: () => Promise<Record<string, string>>,
): Promise<AppLayers> {
  const { store } = spec;
  // A framework's output hook without a key of what decides it cannot be remembered.
  const key =
    spec.output !== undefined && spec.outputKey === undefined
      ? undefined
      : await builtKey({
          app,
          keys,
          steps: spec.steps,
          env: spec.env,
          sourceDateEpoch: spec.sourceDateEpoch,
          ...(spec.compression && { compression: spec.compression }),
          ...(spec.outputKey !== undefined && { output: spec.outputKey }),
        });
  const done = key !== undefined ? await builtHit(store, key) : undefined;
  if (done) {
    spec.ctx.secrets.merge(done.secrets);
    spec.report.step(
      `build: cached (the app's files, its install, the build script and the environment are unchanged): no install was copied back and "${spec.steps.buildScript}" did not run`,
    );
    return { ...builtLayers(store, done), cached: true, devCached: true };
  }
  const layers = await inScratch(spec, `app-node-modules:v3:${keys.dev}`, true, (b) =>
    buildStep(spec, keys, hit, b),
  );
  if (key !== undefined) await rememberBuilt(store, key, layers, spec.ctx.secrets.state());
  return layers;
}

export async function buildAppLayers(spec: AppBuildSpec): Promise<AppLayers> {
  const { store } = spec;
  const app = appFilesOnce(spec.ctx);
  const keys = await installKeys({
    ctx: spec.ctx,
    app,
    inputs: spec.inputs ?? INSTALL_INPUTS,
    wholeApp: spec.wholeApp === true,
    keyParts: spec.keyParts,
    steps: spec.steps,
    ...(spec.bin !== undefined && { bin: spec.bin }),
    prune: spec.prune ? `rules-v${PRUNE_RULES_VERSION}` : 'off',
    ...(spec.trace && { trace: { ...spec.trace, version: TRACE_VERSION } }),
  });
  const hit = await store
    .record('node-modules')
    .get({ install: keys.prod }, { usable: (r) => store.has(r.descriptor.digest) });
  const ls = layerSpec(spec);
  if (spec.steps.buildScript !== undefined) return builtOrBuild(spec, keys, hit, app);
  if (hit && spec.output === undefined) {
    spec.report.step('node_modules: cached (package.json and lockfile unchanged)');
    return {
      nodeModules: storedLayer(store, hit),
      app: await sourceAppLayer(ls),
      cached: true,
      ...(hit.binPath !== undefined && { binPath: hit.binPath }),
    };
  }
  // Named after the digest of everything installed, with the prefix the name always had, so
  // the paths an install may record are the same as ever.
  return inScratch(spec, `app-node-modules:v2:${keys.prod}`, spec.installNeedsWholeApp, async (b) => {
    await runPhases(b, ['install']);
    if (spec.output) return { ...(await spec.output(b.dir)), cached: false };
    const nm = await nodeModulesLayer(layerSpec(spec, b.tc.pm.name), b.dir);
    await store.record('node-modules').put({ install: keys.prod }, nm);
    checkAborted(spec.signal);
    return {
      nodeModules: storedLayer(store, nm),
      app: await sourceAppLayer(ls),
      cached: false,
      ...(nm.binPath !== undefined && { binPath: nm.binPath }),
    };
  });
}
