import { join } from 'node:path';
import { checkAborted, DistillError } from '../../errors.js';
import { hostPlatform } from '../../host.js';
import { compressionKey } from '../../layers/compression.js';
import { digestOf } from '../../oci/digest.js';
import type { Artifact, Image, Layer } from '../../oci/image.js';
import { appendLayers, buildIndex } from '../../oci/mutate.js';
import { parsePlatform } from '../../oci/platform.js';
import { APP_PLAN_VERSION, type AppPlan, type PlannedLayer } from '../../plan/app.js';
import { nodeOrigin } from '../../plan/app-node.js';
import { debianArch, debianToNodeArch } from '../../plan/base.js';
import { traceSpec } from '../../plan/trace.js';
import { writableEntries } from '../../plan/writable.js';
import type { Store } from '../../store/store.js';
import { appAttestations, checkAttest } from '../attest.js';
import { checkPlanVersion } from '../base/index.js';
import { cachedLayer } from '../layercache.js';
import { type NodeImageLayer, nodeImageLayer } from '../node-layer.js';
import { type BuildResult, writeOutputs } from '../outputs.js';
import { type AppBase, appBase } from './base.js';
import { type AppLayers, buildAppLayers } from './build.js';
import { checkInstall, checkNodeOnBase, nativeTarget } from './checks.js';
import { type AppContext, appContext } from './context.js';
import { crossInstall } from './cross.js';
import type { AppBuildDeps } from './deps.js';
import { assembleAppImage } from './image.js';
import type { InstallSteps } from './install.js';
import { withCompileTarget } from './install-failure.js';
import { scratchRoots } from './scratch.js';
import { leftOutWarning, unmetIncludes } from './secrets.js';
import { checkLayers } from './smoke.js';
import { frameworkOutput } from './standalone.js';
import { sweepScratch } from './sweep.js';
import { toolchainFor } from './toolchain.js';

/**
 * `distill build`, the building half: an AppPlan (src/plan/app.ts) becomes one image per
 * platform (an index for several) and is written to the plan's outputs. It reads the plan and
 * nothing else of the request; everything it fetches comes through `deps.sources`.
 */
export type { AppBuildDeps } from './deps.js';

function createdBy(plan: AppPlan, name: PlannedLayer['name']): string {
  const layer = plan.layers.find((l) => l.name === name);
  if (layer?.createdBy === undefined) {
    throw new DistillError('PLAN_INVALID', `the plan has no ${name} layer to make; make the plan again`);
  }
  return layer.createdBy;
}

/** What the builder step runs for one architecture. */
function installSteps(plan: AppPlan, arch: string): InstallSteps {
  const crossOf = crossInstall(plan, arch);
  return {
    ...(plan.buildScript !== undefined && { buildScript: plan.buildScript }),
    ...(plan.app.workspace !== undefined && { workspace: plan.app.workspace }),
    ...(plan.install.workspaces !== undefined && { workspaces: plan.install.workspaces }),
    ...(debianArch(hostPlatform()) !== arch && { targetArch: debianToNodeArch(arch) }),
    ...(crossOf !== undefined && { cross: crossOf }),
  };
}

/** One platform's image: the base, Node, node_modules and the app, with the plan's config. */
async function buildPlatform(
  plan: AppPlan,
  deps: AppBuildDeps,
  base: AppBase,
  ctx: AppContext,
  arch: string,
  cleanups: Promise<void>[],
  started: Promise<NodeImageLayer>,
): Promise<Image> {
  const { store } = deps;
  const nodeArch = debianToNodeArch(arch);
  const step = (m: string) => deps.step?.(m);
  step(`${arch}: Node ${plan.node.version}`);
  const node = await started;
  const baseImage = appendLayers(base.images.get(arch)!, {
    layer: node.layer,
    history: { created_by: createdBy(plan, 'node') },
  });
  const target = nativeTarget(plan, base, arch);
  // The node_modules layer's key has the compression (and gzip's encoder).
  const layersKey = compressionKey(plan.layerCompression);
  if (plan.base.kind === 'image') {
    const release = await deps.sources.nodeRuntime(plan.node.version, nodeArch);
    await checkNodeOnBase(store, release, plan.base.ref, base.libc?.get(arch), target);
  }
  checkAborted(deps.signal);
  const layers = await buildAppLayers({
    ctx,
    steps: installSteps(plan, arch),
    installNeedsWholeApp: plan.install.copy === 'app',
    lockfileName: plan.install.lockfile,
    ...(plan.install.inputs !== undefined && { inputs: plan.install.inputs }),
    wholeApp: plan.install.wholeApp !== undefined,
    keyParts: {
      pm: `${plan.packageManager.name}@${plan.packageManager.spec}`,
      node: plan.node.version,
      abi: node.abi,
      arch,
      layers: layersKey,
      // Of distill's base, its locked packages.
      base:
        plan.base.kind === 'debian'
          ? digestOf(JSON.stringify(plan.base.lock.architectures[arch] ?? []))
          : plan.base.ref,
    },
    ...(plan.cmd.bin !== undefined && { bin: plan.cmd.bin }),
    ...(plan.prune?.on && { prune: true }),
    ...(plan.prune?.trace && { trace: traceSpec(plan.prune.trace) }),
    toolchain: () => toolchainFor(plan, deps, arch),
    inspectInstall: (scratch) => checkInstall(scratch, target, step),
    ...frameworkOutput(plan, store, (dir) => checkInstall(dir, target, step), step),
    store,
    sourceDateEpoch: plan.sourceDateEpoch,
    ...(plan.layerCompression && { compression: plan.layerCompression }),
    env: deps.env,
    report: {
      step,
      ...(deps.output && { output: deps.output }),
      ...(deps.progress && { progress: deps.progress }),
    },
    ...(deps.signal && { signal: deps.signal }),
  }).catch((err: unknown) => {
    throw withCompileTarget(err, {
      version: plan.node.version,
      abi: node.abi,
      origin: nodeOrigin(plan.node),
    });
  });
  if (layers.cleanup) cleanups.push(layers.cleanup);
  return appImage(plan, baseImage, layers, store, step);
}

/**
 * Node's layer and ABI per architecture (from a node-layer record without the release when there
 * is one), started before the base: they depend on nothing else, and on a fresh runner the
 * layer's transfer from a remote cache then overlaps the base's.
 */
function startNodeLayers(plan: AppPlan, deps: AppBuildDeps): Map<string, Promise<NodeImageLayer>> {
  const started = new Map<string, Promise<NodeImageLayer>>();
  for (const platform of plan.platforms) {
    const arch = debianArch(parsePlatform(platform));
    const node = nodeImageLayer(deps.store, deps.sources, plan.node.version, debianToNodeArch(arch), {
      strip: plan.node.strip !== false,
      sourceDateEpoch: plan.sourceDateEpoch,
      ...(plan.layerCompression && { compression: plan.layerCompression }),
    });
    node.catch(() => {}); // awaited by buildPlatform; a failure is reported there
    started.set(arch, node);
  }
  return started;
}

/** The app's layers on the base, with the plan's container config. */
async function appImage(
  plan: AppPlan,
  baseImage: Image,
  layers: AppLayers,
  store: Store,
  step: (message: string) => void,
): Promise<Image> {
  // A dependency's bin, resolved where the install put it: the same file for the same install.
  const cmd = plan.cmd.bin !== undefined ? [layers.binPath!, ...plan.cmd.args] : plan.cmd.args;
  // What the command loads must be in these layers: checked before anything is written.
  await checkLayers(store, layers, plan, step);
  return assembleAppImage(
    baseImage,
    { ...layers, ...(plan.writable && { writable: await writableLayer(plan.writable, plan, store) }) },
    {
      created: plan.created,
      entrypoint: plan.entrypoint,
      cmd,
      user: plan.user,
      workdir: plan.workdir,
      env: plan.env,
      ports: plan.ports,
      labels: plan.labels,
      ...(plan.healthcheck !== undefined && { healthcheck: plan.healthcheck }),
      ...(plan.volumes !== undefined && { volumes: plan.volumes }),
    },
    {
      nodeModules: createdBy(plan, 'node_modules'),
      app: createdBy(plan, 'app'),
      ...(plan.writable && { writable: createdBy(plan, 'writable') }),
    },
  );
}

/** The empty directories owned by the app user (--writable, --volume): a small layer of their own. */
function writableLayer(dirs: string[], plan: AppPlan, store: Store): Promise<Layer> {
  return cachedLayer(
    store,
    writableEntries(dirs, plan.user).map((entry) => ({ entry })),
    {
      sourceDateEpoch: plan.sourceDateEpoch,
      ...(plan.layerCompression && { compression: plan.layerCompression }),
    },
  );
}

/**
 * After the app layers: an --include-secret path that named nothing is a usage error (one a build
 * script was to make is known only now); the secrets left out are one warning.
 */
function reportSecrets(ctx: AppContext, deps: AppBuildDeps): void {
  const unmet = ctx.secrets.unmet();
  if (unmet.length > 0) throw unmetIncludes(ctx, unmet, " nor in the build script's output");
  const kept = ctx.secrets.kept();
  if (kept.length > 0) deps.step?.(`kept as --include-secret asks: ${kept.map((s) => s.path).join(', ')}`);
  const warning = leftOutWarning(ctx.secrets.leftOut());
  if (warning !== undefined) deps.warn?.(warning);
}

/** Removes the scratch copies of killed builds from the places this build would use. */
async function sweepRoots(env: NodeJS.ProcessEnv): Promise<void> {
  for (const root of await scratchRoots(env)) await sweepScratch(join(root.dir, 'distill-build'));
}

export async function buildApp(plan: AppPlan, deps: AppBuildDeps): Promise<BuildResult> {
  checkPlanVersion(plan.planVersion, APP_PLAN_VERSION, 'app');
  if (deps.attest) checkAttest(deps.attest, plan.install.lockfile);
  checkAborted(deps.signal);
  // Copies of killed builds go at the next build, cached or not, while this one goes on.
  const swept = sweepRoots(deps.env).catch(() => {});
  const images: Image[] = [];
  // Scratch copies being removed while the rest of the build goes on.
  const cleanups: Promise<void>[] = [];
  const nodes = startNodeLayers(plan, deps);
  try {
    const base = await appBase(plan, deps);
    const ctx = await appContext(plan.app.dir, { includeSecrets: plan.secrets.include });
    for (const platform of plan.platforms) {
      checkAborted(deps.signal);
      const arch = debianArch(parsePlatform(platform));
      images.push(await buildPlatform(plan, deps, base, ctx, arch, cleanups, nodes.get(arch)!));
    }
    reportSecrets(ctx, deps);
    const artifact: Artifact = images.length === 1 ? images[0]! : buildIndex(images);
    const referrers = deps.attest
      ? await appAttestations(plan, artifact, deps, deps.attest, {
          ...(base.licenses && { debLicenses: base.licenses }),
        })
      : [];
    const outputs = await writeOutputs(artifact, plan.outputs, {
      store: deps.store,
      referrers,
      ...(deps.warn && { warn: deps.warn }),
      ...(deps.media && { media: deps.media }),
      ...(deps.step && { step: deps.step }),
      ...(deps.signal && { signal: deps.signal }),
      own: { ref: `oci:${plan.ownLayout}:${plan.image.tag}`, dir: plan.ownLayout },
    });
    return { artifact, outputs };
  } finally {
    // Nothing started here may still write into the store once the caller has the result.
    await Promise.all([...cleanups, swept, ...[...nodes.values()].map((n) => n.catch(() => {}))]);
  }
}
