/**
 * npm packages as SBOM components: from npm's lockfile (v2/v3 `packages`, the app's
 * package-lock.json or the hidden node_modules/.package-lock.json an install leaves in the image),
 * or from package.json files found in an image. Dependencies are resolved the way Node resolves
 * them: from a package's directory, the nearest `node_modules/NAME` up the tree.
 */
import { npmLicense } from './license.js';
import { componentId, hashesFromIntegrity, type SbomComponent } from './model.js';
import { npmPurl } from './purl.js';

/** One package of an installed node_modules tree. */
export interface InstalledNpmPackage {
  /** Its directory, relative to the app root (`node_modules/a/node_modules/@s/b`) or absolute in an image. */
  path: string;
  name: string;
  version: string | null;
  /** package.json's `license` (or the old `licenses`), as declared. */
  license?: unknown;
  licenses?: unknown;
  /** The lockfile's `integrity` (SRI) and `resolved` (where it was downloaded from). */
  integrity?: string;
  resolved?: string;
  /** Names of what it depends on (dependencies, optionalDependencies, peerDependencies). */
  dependencies: string[];
}

type LockEntry = {
  name?: unknown;
  version?: unknown;
  license?: unknown;
  integrity?: unknown;
  resolved?: unknown;
  dev?: unknown;
  link?: unknown;
  dependencies?: unknown;
  optionalDependencies?: unknown;
  peerDependencies?: unknown;
};

function depNames(e: LockEntry): string[] {
  const names = new Set<string>();
  for (const field of [e.dependencies, e.optionalDependencies, e.peerDependencies]) {
    if (field && typeof field === 'object') for (const n of Object.keys(field)) names.add(n);
  }
  return [...names].sort();
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The package name of a lockfile key: what follows its last `node_modules/`. */
function nameOfPath(path: string): string {
  const i = path.lastIndexOf('node_modules/');
  return i < 0 ? path : path.slice(i + 'node_modules/'.length);
}

export interface NpmLock {
  root: { name?: string; version?: string; dependencies: string[] };
  packages: InstalledNpmPackage[];
}

/**
 * The packages of npm's lockfile (lockfileVersion 2 or 3) that an install without dev
 * dependencies puts in node_modules (entries marked `dev` and links left out), and the root's
 * dependency names. null for another lockfile (v1 has no `packages`).
 */
export function npmPackagesFromLockfile(lock: unknown): NpmLock | null {
  const packages = (lock as { packages?: unknown } | null)?.packages;
  if (!packages || typeof packages !== 'object') return null;
  const entries = packages as Record<string, LockEntry>;
  const rootEntry = entries[''] ?? {};
  const out: InstalledNpmPackage[] = [];
  for (const [path, e] of Object.entries(entries)) {
    if (path === '' || !path.includes('node_modules/') || e.dev === true || e.link === true) continue;
    const integrity = str(e.integrity);
    const resolved = str(e.resolved);
    out.push({
      path,
      name: str(e.name) ?? nameOfPath(path),
      version: str(e.version) ?? null,
      ...(e.license !== undefined && { license: e.license }),
      ...(integrity !== undefined && { integrity }),
      ...(resolved !== undefined && { resolved }),
      dependencies: depNames(e),
    });
  }
  const name = str((lock as { name?: unknown }).name) ?? str(rootEntry.name);
  const version = str(rootEntry.version) ?? str((lock as { version?: unknown }).version);
  return {
    root: {
      ...(name !== undefined && { name }),
      ...(version !== undefined && { version }),
      dependencies: depNames(rootEntry),
    },
    packages: out,
  };
}

/**
 * Node's resolution: from `from` (a package directory, or the root ''), the nearest
 * node_modules/NAME, through a symbolic link there (`links`: path -> the path it points to).
 */
function resolveIn(
  byPath: ReadonlyMap<string, string>,
  from: string,
  name: string,
  links?: ReadonlyMap<string, string>,
): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    const linked = links?.get(candidate);
    const id = byPath.get(candidate) ?? (linked === undefined ? undefined : byPath.get(linked));
    if (id !== undefined) return id;
    if (dir === '' || dir === '/') return undefined;
    const i = dir.lastIndexOf('/node_modules/');
    if (i >= 0) dir = dir.slice(0, i);
    else if (dir.startsWith('node_modules/')) dir = '';
    else dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/')));
  }
}

/**
 * Components of installed npm packages, with dependsOn resolved among them; `rootDeps` are
 * resolved from `rootDir` (the app root: '' for lockfile paths, `/app` in an image).
 */
export function npmComponents(
  packages: readonly InstalledNpmPackage[],
  opts: {
    layer?: string;
    pathPrefix?: string;
    rootDir?: string;
    rootDeps?: readonly string[];
    /** Symbolic links of the tree (path -> path it points to, both as the packages' paths). */
    links?: ReadonlyMap<string, string>;
  } = {},
): { components: SbomComponent[]; rootDependsOn: string[] } {
  const prefix = opts.pathPrefix ?? '';
  const links =
    opts.links && new Map([...opts.links].map(([from, to]) => [`${prefix}${from}`, `${prefix}${to}`]));
  const byPath = new Map<string, string>();
  const components = packages.map((p) => {
    const path = `${prefix}${p.path}`;
    const c: SbomComponent = {
      id: componentId({ kind: 'npm', name: p.name, version: p.version, path }),
      kind: 'npm',
      name: p.name,
      version: p.version,
      purl: npmPurl(p.name, p.version),
      hashes: hashesFromIntegrity(p.integrity),
      license: npmLicense(p),
      // A download location is a URL (SPDX 7.7): a `file:` tarball beside the app is none.
      ...(p.resolved !== undefined &&
        /^(https?|git\+[a-z]+):\/\//.test(p.resolved) && { download: p.resolved }),
      ...(opts.layer !== undefined && { layer: opts.layer }),
      path,
      dependsOn: [],
    };
    byPath.set(path, c.id);
    return c;
  });
  packages.forEach((p, i) => {
    const c = components[i]!;
    for (const d of p.dependencies) {
      const id = resolveIn(byPath, c.path!, d, links);
      if (id !== undefined && id !== c.id) c.dependsOn.push(id);
    }
  });
  const rootDir = `${prefix}${opts.rootDir ?? ''}`.replace(/\/$/, '');
  const rootDependsOn = (opts.rootDeps ?? [])
    .map((d) => resolveIn(byPath, rootDir, d, links))
    .filter((id): id is string => id !== undefined);
  return { components, rootDependsOn };
}
