import { DistillError } from '../../errors.js';
import { buildLayer } from '../../layers/build.js';
import { type LayerCompression, layerCompressionOptions } from '../../layers/compression.js';
import { entriesFromDirectory } from '../../layers/directory.js';
import type { LayerEntry } from '../../layers/entries.js';
import type { Digest } from '../../oci/digest.js';
import type { Layer } from '../../oci/image.js';
import type { Descriptor } from '../../oci/types.js';
import type { WorkspacePackage } from '../../plan/builder.js';
import { APP_DIR } from '../../plan/layout.js';
import { pruneTree } from '../../plan/prune.js';
import type { TraceSpec } from '../../plan/trace.js';
import { traceInstall } from '../../plan/trace-next.js';
import type { Store } from '../../store/store.js';
import { inClosure, productionClosure } from './closure.js';
import type { AppContext } from './context.js';
import { isBuildCache } from './devtree.js';
import { gypIntermediates, nodeModulesDirs, pmState, resolveBin } from './nodemodules.js';
import { pruneSummary, traceSummary } from './prune.js';

/**
 * The two layers an app build adds, from a scratch copy or the app directory: node_modules
 * (production dependencies, what a fresh production install holds) and the app's own files
 * (with the build's output). With --workspace, only the package and the workspace packages it
 * depends on in production are shipped, with the workspace root's package.json, at their places
 * under /app (the hoisted node_modules of npm and yarn stay at the root, where their resolution
 * finds them).
 */
export interface NodeModulesRecord {
  descriptor: Descriptor;
  diffId: Digest;
  /** Where `bin` resolved, relative to the app directory. */
  binPath?: string;
}

/** buildLayer's options for a layer of the app. */
function layerOptions(s: LayerSpec) {
  return { store: s.store, sourceDateEpoch: s.sourceDateEpoch, ...layerCompressionOptions(s.compression) };
}

export interface LayerSpec {
  ctx: AppContext;
  store: Store;
  sourceDateEpoch: number;
  compression?: LayerCompression;
  workspaces?: readonly WorkspacePackage[];
  /**
   * Ship only the production closure of the shipped workspace packages (closure.ts): for yarn
   * classic, which installs every workspace's production dependencies.
   */
  closure?: boolean;
  bin?: string;
  /** Leave out what the safe prune's rules match (src/plan/prune-rules.ts). */
  prune?: boolean;
  /** `--trace`: leave out what the app cannot reach from these entries (src/plan/trace.ts). */
  trace?: TraceSpec;
  /** Reads the installed node_modules before it goes (native addon check). */
  inspectInstall?(dir: string): Promise<void>;
  step(message: string): void;
}

/** Whether a path is (or is under, or above) a workspace package that ships; always true without one. */
export function shipsPath(
  workspaces: readonly WorkspacePackage[] | undefined,
  rel: string,
  isDir: boolean,
): boolean {
  if (workspaces === undefined) return true;
  if (rel === 'package.json' || rel.split('/')[0] === 'node_modules') return true;
  return workspaces.some(
    (w) => w.ship && (rel === w.rel || rel.startsWith(`${w.rel}/`) || (isDir && w.rel.startsWith(`${rel}/`))),
  );
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

/** The app's own files, as the app directory has them (no build script ran), but secrets (secrets.ts). */
export async function sourceAppLayer(s: LayerSpec): Promise<Layer> {
  const { ctx } = s;
  const entries = await appEntries(
    ctx.dir,
    (rel, isDir, info) =>
      ctx.ignores(rel, isDir) ||
      !shipsPath(s.workspaces, rel, isDir) ||
      ctx.secrets.leavesOut(ctx.dir, rel, info),
  );
  return buildLayer(entries, layerOptions(s));
}

/**
 * The app after its build script, from the scratch copy: everything but node_modules, what the
 * install added (`outputs`: package managers' state), distill's shims and secrets (secrets.ts).
 */
export async function builtAppLayer(
  s: LayerSpec,
  scratch: string,
  outputs: readonly string[],
): Promise<Layer> {
  const nmDirs = nodeModulesDirs(scratch);
  // --trace on next start: Next's build cache is not the server's (trace-next.ts).
  const nextCache =
    s.trace?.next && (s.trace.next.app === '' ? '.next/cache' : `${s.trace.next.app}/.next/cache`);
  const skip = (rel: string, isDir: boolean, info: EntryInfo) =>
    rel === '.distill-bin' ||
    rel === nextCache ||
    outputs.includes(rel) ||
    nmDirs.some((d) => rel === d || rel.startsWith(`${d}/`)) ||
    !shipsPath(s.workspaces, rel, isDir) ||
    s.ctx.secrets.leavesOut(scratch, rel, info);
  return buildLayer(await appEntries(scratch, skip), layerOptions(s));
}

/**
 * The node_modules layer of a pruned (or production) install in `scratch`, checked by
 * inspectInstall while it is built. Left out: node-gyp's intermediates, package managers' state,
 * build tools' caches, and the node_modules of workspace packages that do not ship.
 */
export async function nodeModulesLayer(s: LayerSpec, scratch: string): Promise<NodeModulesRecord> {
  const checked = Promise.resolve(s.inspectInstall?.(scratch));
  checked.catch(() => {});
  const nmDirs = nodeModulesDirs(scratch).filter((d) => shipsPath(s.workspaces, d, true));
  const drop = gypIntermediates(scratch, nmDirs);
  if (s.prune) {
    const pruned = pruneTree(scratch, nmDirs);
    for (const p of pruned.drop) drop.add(p);
    s.step(`node_modules: the safe prune leaves out ${pruneSummary(pruned)} (--no-prune keeps them)`);
  }
  const binPath = s.bin !== undefined ? await resolveBin(scratch, s.bin) : undefined;
  if (s.trace) {
    const traced = await traceInstall(s.trace, scratch, nmDirs, binPath, s.ctx.dir);
    for (const p of traced.drop) drop.add(p);
    const next =
      traced.lists && ` (Next's own lists: ${traced.lists.length} .nft.json; and next start's command line)`;
    s.step(`node_modules: --trace${next ?? ''} ${traceSummary(traced)}`);
  }
  const starts = s.workspaces?.filter((w) => w.ship).map((w) => w.rel) ?? [];
  const closure = s.closure && starts.length > 0 ? productionClosure(scratch, starts) : undefined;
  const inNm = (rel: string) => nmDirs.some((d) => rel === d || rel.startsWith(`${d}/`));
  const aboveNm = (rel: string) => nmDirs.some((d) => d.startsWith(`${rel}/`));
  const nmEntries = await appEntries(scratch, (rel, isDir) =>
    drop.has(rel) ||
    pmState(rel) ||
    isBuildCache(rel) ||
    (closure !== undefined && !inClosure(closure, rel, isDir))
      ? true
      : inNm(rel)
        ? false
        : !(isDir && aboveNm(rel)),
  );
  s.step(`node_modules: layering ${nmEntries.length} entries`);
  if (s.bin !== undefined && binPath === undefined) {
    throw new DistillError(
      'APP_CMD_UNKNOWN',
      `scripts.start runs "${s.bin}", but no installed dependency provides a bin of that name; add the package that provides it to "dependencies", or set "distill": {"cmd": [...]} in package.json`,
    );
  }
  const [layer, check] = await Promise.allSettled([buildLayer(nmEntries, layerOptions(s)), checked]);
  if (check.status === 'rejected') throw check.reason;
  if (layer.status === 'rejected') throw layer.reason;
  return {
    descriptor: layer.value.descriptor,
    diffId: layer.value.diffId,
    ...(binPath !== undefined && { binPath }),
  };
}
