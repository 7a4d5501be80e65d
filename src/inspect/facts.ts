/**
 * Facts about an image, from its merged filesystem and its config. The harvester (facts-probes.ts)
 * reads the few files facts need while the layers stream by (every read capped); the rest comes
 * from metadata: one walk over the tree (facts-scan.ts), the executables on PATH (facts-tools.ts),
 * the system (facts-system.ts) and the secrets (facts-secrets.ts). The shape is the versioned JSON
 * schema of schema.ts: plain data, lists sorted, paths absolute.
 */
import type { ImageConfigJson } from '../oci/types.js';
import { factHarvester } from './facts-probes.js';
import { byPath, scanTree } from './facts-scan.js';
import { removedSecretsHook, secretFacts } from './facts-secrets.js';
import { layerFacts, libcFact, nodeFact, osFact, sizeFact, userFact } from './facts-system.js';
import { binDirs, configEnv, ToolFinder, toolFacts } from './facts-tools.js';
import type { MergeOptions } from './merge.js';
import { DEFAULT_PACKAGE_LIMITS, type PackageDetails, type PackageLimits } from './packages.js';
import { redactEnv, type SecretKind } from './secret-rules.js';
import type { Tree } from './tree.js';
import { MAX_UNSAFE, type UnsafeEntry } from './unsafe.js';

/** An entry extractors mishandle (see unsafe.ts). */
export type UnsafePath = UnsafeEntry;

/**
 * Version of the facts' JSON shape (schema.ts). 2: compressed sizes may be null (unknown), lotl
 * entries are named after their own binary, more secret kinds, unsafePaths; compare adds
 * packageDiff.
 */
export const FACTS_SCHEMA_VERSION = 2;

export interface Executable {
  name: string;
  /** Where it was found, `/bin/sh`. */
  path: string;
  /** The file `path` resolves to when that is another path (`/bin/sh` -> `/bin/dash`), else null. */
  target: string | null;
  /** `unknown`: the path is a symlink loop (or a chain of more than 40 links). */
  status: 'present' | 'unknown';
}

export interface LotlFinding extends Executable {
  reason: string;
}

export interface SpecialFile {
  path: string;
  /** Octal permission bits, `4755`. */
  mode: string;
  uid: number;
  gid: number;
  setuid: boolean;
  setgid: boolean;
}

export interface WritablePath {
  path: string;
  type: 'file' | 'dir' | 'other';
  mode: string;
}

export interface Package {
  type: 'deb' | 'apk' | 'rpm' | 'npm';
  name: string;
  version: string | null;
  /** The database file it is listed in, or the package's directory for npm. */
  path: string;
  /** deb and rpm: the architecture the database lists (amd64, all; x86_64); absent when it lists none. */
  architecture?: string;
  /** With `packageDetails`: the index of the layer that wrote its database entry (or package.json). */
  layer?: number;
  /** With `packageDetails`: source package, licence, dependencies (packages.ts PackageDetails). */
  details?: PackageDetails;
}

/** With `packageDetails`: the files an SBOM reads besides the package databases. */
export interface PackageFiles {
  /** Debian copyright files by package name (usr/share/doc/NAME/copyright). */
  copyrights: Record<string, string>;
  /**
   * npm's hidden lockfiles by the directory holding node_modules (`/app`): each package's
   * `integrity` and `resolved`, by its path relative to that directory.
   */
  npmLocks: Record<string, Record<string, { integrity?: string; resolved?: string }>>;
}

export interface PackageDatabase {
  type: 'deb' | 'apk' | 'rpm';
  path: string;
  /** Packages listed; null when not read (an rpm database in another format than SQLite, or unreadable). */
  count: number | null;
}

export interface LayerFact {
  /** 0 for the base layer. */
  index: number;
  digest: string | null;
  diffId: string | null;
  mediaType: string | null;
  /** Bytes of the compressed blob; null when the blob is an uncompressed tar (size unknown). */
  compressed: number | null;
  uncompressed: number;
  entries: number;
  createdBy: string | null;
}

export interface SecretFinding {
  kind: SecretKind;
  /** An environment variable's name, or a file's path. Never the value. */
  location: string;
  source: 'config' | 'filesystem';
  /** The layer holding the file; null for the config. */
  layer: number | null;
  /** The file was deleted or replaced by a later layer: hidden in the container, still in the image. */
  removed: boolean;
}

export interface Facts {
  schemaVersion: typeof FACTS_SCHEMA_VERSION;
  source: {
    kind: 'image' | 'rootfs';
    manifestDigest: string | null;
    configDigest: string | null;
    /** `linux/amd64`, from the config. */
    platform: string | null;
  };
  os: {
    id: string | null;
    version: string | null;
    /** VERSION_CODENAME of os-release (trixie), else null. */
    codename: string | null;
    prettyName: string | null;
    path: string | null;
  };
  libc: { family: 'glibc' | 'musl' | 'none'; version: string | null; path: string | null };
  shells: Executable[];
  packageManagers: Executable[];
  lotl: LotlFinding[];
  setuid: SpecialFile[];
  worldWritable: WritablePath[];
  /** Layer entries extractors mishandle (unsafe.ts): absolute or `..` names, links leading outside. */
  unsafePaths: UnsafePath[];
  /** The config's User; null when unset (root). */
  user: string | null;
  /** null when it cannot be told (a user name not in /etc/passwd, or no config). */
  runsAsRoot: boolean | null;
  entrypoint: string[] | null;
  cmd: string[] | null;
  workingDir: string | null;
  /** The config's Env, values of likely secrets replaced by `<redacted>`. */
  env: string[];
  exposedPorts: string[];
  packages: Package[];
  packageDatabases: PackageDatabase[];
  /** Only with `packageDetails`. */
  packageFiles?: PackageFiles;
  node: { version: string | null; source: 'binary' | 'env'; path: string | null } | null;
  /** compressed: null when any layer's is unknown. */
  size: { compressed: number | null; uncompressed: number };
  layers: LayerFact[];
  wastedBytes: number;
  secrets: SecretFinding[];
  /** Only when the security archive was asked about (security.ts): whether it could be. */
  security?: SecurityStatus;
  /** With `security`: the deb packages its archive has a newer version of (empty when not checked). */
  securityUpdates?: SecurityUpdate[];
  warnings: string[];
}

export interface SecurityStatus {
  /** False when the image is not Debian, its release is unknown, or the archive could not be read. */
  checked: boolean;
  /** The suite asked, `trixie-security`. */
  suite?: string;
  /** Why it was not checked. */
  reason?: string;
}

export interface SecurityUpdate {
  name: string;
  /** The architecture compared (the installed package's, or the image's when its database lists none). */
  architecture: string;
  installed: string;
  available: string;
  suite: string;
}

export interface FactLimits extends PackageLimits {
  /** package.json files under node_modules read at most (default 50,000). */
  maxPackageJsonFiles: number;
}

export const DEFAULT_FACT_LIMITS: FactLimits = { ...DEFAULT_PACKAGE_LIMITS, maxPackageJsonFiles: 50_000 };

/**
 * Collects facts while an image is merged (`merge`: the harvester and the hook that remembers
 * secrets in removed files) and builds them afterwards (`facts`).
 */
export function factCollector(limits: FactLimits = DEFAULT_FACT_LIMITS): {
  merge: Pick<MergeOptions, 'harvest' | 'onRemove'>;
  facts(tree: Tree, ctx: FactContext): Facts;
} {
  const removedSecrets: SecretFinding[] = [];
  return {
    merge: { harvest: factHarvester(limits), onRemove: removedSecretsHook(removedSecrets) },
    facts: (tree, ctx) => buildFacts(tree, ctx, removedSecrets, limits),
  };
}

/** What facts need besides the tree. */
export interface FactContext {
  source: Facts['source'];
  /** The image config; undefined for a root filesystem. */
  config?: ImageConfigJson;
  /** Per layer, in order, what the manifest says (null for a root filesystem). */
  layers: { digest: string | null; diffId: string | null; mediaType: string | null }[];
}

function pkgOrder(a: Package, b: Package): number {
  return (
    (a.type < b.type ? -1 : a.type > b.type ? 1 : 0) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
    byPath(a, b) ||
    ((a.version ?? '') < (b.version ?? '') ? -1 : (a.version ?? '') > (b.version ?? '') ? 1 : 0)
  );
}

function buildFacts(
  tree: Tree,
  ctx: FactContext,
  removedSecrets: readonly SecretFinding[],
  limits: FactLimits,
): Facts {
  // Warnings come in the order of the facts below: the tree's, then each fact's.
  const warnings = [...tree.warnings];
  const warn = (m: string) => warnings.push(m);
  if (tree.unsafeOmitted > 0) {
    warn(`${tree.unsafeOmitted} more unsafe entries were found; only the first ${MAX_UNSAFE} are listed`);
  }
  const config = ctx.config;
  const env = configEnv(config);
  const scanned = scanTree(tree, limits, warn);
  const os = osFact(tree, warn);
  const libc = libcFact(tree, scanned, warn);
  const finder = new ToolFinder(tree, binDirs(env), warn);
  const { shells, packageManagers, lotl } = toolFacts(tree, finder);
  const node = nodeFact(tree, finder, scanned, env);
  const { user, runsAsRoot } = userFact(tree, config, warn);
  const secrets = secretFacts(env, scanned.secrets, removedSecrets, warn);
  const layers = layerFacts(tree, ctx, warn);
  const cc = config?.config;
  return {
    schemaVersion: FACTS_SCHEMA_VERSION,
    source: ctx.source,
    os,
    libc,
    shells,
    packageManagers,
    lotl,
    setuid: scanned.setuid.sort(byPath),
    worldWritable: scanned.worldWritable.sort(byPath),
    unsafePaths: tree.unsafePaths,
    user,
    runsAsRoot,
    entrypoint: stringList(cc?.Entrypoint),
    cmd: stringList(cc?.Cmd),
    workingDir: typeof cc?.WorkingDir === 'string' && cc.WorkingDir !== '' ? cc.WorkingDir : null,
    env: redactEnv(env),
    exposedPorts: Object.keys(cc?.ExposedPorts ?? {}).sort(),
    packages: scanned.packages.sort(pkgOrder),
    packageDatabases: scanned.packageDatabases.sort(byPath),
    ...(limits.packageDetails && { packageFiles: scanned.packageFiles }),
    node,
    size: sizeFact(layers),
    layers,
    wastedBytes: tree.wastedBytes,
    secrets,
    warnings,
  };
}

function stringList(v: unknown): string[] | null {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null;
}
