import type { AppDir } from '../sources/app/read.js';
import type { NodeArch, NodeReleases } from '../sources/node/index.js';
import { debianToNodeArch } from './base.js';
import { chooseNodeVersion, type NodeSpecs, type StatedSpec } from './node-version.js';

/**
 * The Node release of an app build: every place that states a version (`--node`, engines.node,
 * .nvmrc, .node-version, volta.node) goes to chooseNodeVersion (decision 0007) with the releases
 * published for the build's platforms. The plan keeps the choice, the source that decided, every
 * stated spec and the warnings, so that `--plan` shows why this Node and not another.
 */
export interface PlannedNode {
  /** The exact release. */
  version: string;
  /** The spec that decided (`lts` when nothing was stated). */
  spec: string;
  /** The source that decided, for a person: `.node-version`, `engines.node in package.json`, ... */
  from: string;
  /** Every stated spec, with the release it alone would give. */
  stated: StatedSpec[];
  /** Sources that disagree, an end of life: printed as warnings, kept in the plan. */
  warnings: string[];
  /** Set when the release's line is past its end of life. */
  endOfLife?: { line: string; end: string };
}

/**
 * The specs an app states. In a workspace the package's own engines, version files and volta
 * pin come first, the workspace root's where the package states none (nvm and volta read a
 * version file in the directory or above it).
 */
export function nodeSpecsOf(app: AppDir, root: AppDir, flag?: string): NodeSpecs {
  const pkg = (a: AppDir, get: (p: AppDir['packageJson']) => unknown) => {
    const v = get(a.packageJson);
    return typeof v === 'string' && v.trim() !== '' ? v : undefined;
  };
  const either = (get: (a: AppDir) => string | undefined) => get(app) ?? get(root);
  return {
    '--node': flag,
    'engines.node': either((a) => pkg(a, (p) => p.engines?.node)),
    '.nvmrc': either((a) => (a.nvmrc !== '' ? a.nvmrc : undefined)),
    '.node-version': either((a) => (a.nodeVersionFile !== '' ? a.nodeVersionFile : undefined)),
    'volta.node': either((a) => pkg(a, (p) => p.volta?.node)),
  };
}

/**
 * Chooses the Node release from the releases published for every one of `archs` (`releases`,
 * remembered a day by distill's sources: the list is kept, not the pick, so that the choice and
 * its warnings are made again from what the app states now).
 */
export function planNode(specs: NodeSpecs, releases: NodeReleases, archs: readonly string[]): PlannedNode {
  const choice = chooseNodeVersion(specs, releases.versions, {
    source: `the Node.js releases published for linux/${archs.join(' and linux/')} (${releases.source})`,
    ltsCodenames: new Map(releases.ltsCodenames),
  });
  return {
    version: choice.version,
    spec: choice.spec,
    from: choice.from,
    stated: choice.stated,
    warnings: choice.warnings,
    ...(choice.endOfLife && { endOfLife: choice.endOfLife }),
  };
}

/**
 * planNode with the releases `sources` lists for the build's architectures (Debian names), the
 * choice reported as a step and its warnings as warnings.
 */
export async function chooseAppNode(
  specs: NodeSpecs,
  archs: readonly string[],
  sources: { nodeReleases(archs: readonly NodeArch[]): Promise<NodeReleases> },
  progress: { step?(message: string): void; warn?(message: string): void },
): Promise<PlannedNode> {
  const node = planNode(specs, await sources.nodeReleases(archs.map(debianToNodeArch)), archs);
  progress.step?.(`Node ${node.version}, from ${nodeOrigin(node)}`);
  for (const w of node.warnings) progress.warn?.(w);
  return node;
}

/** Where the Node release came from, for messages: `.node-version "18.14.0"`, `the active LTS`. */
export function nodeOrigin(node: Pick<PlannedNode, 'from' | 'spec'>): string {
  return node.from.startsWith('the active LTS') ? node.from : `${node.from} "${node.spec}"`;
}
