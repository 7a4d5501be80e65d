/**
 * npm packages from an installed node_modules tree, whatever package manager made it: every
 * directory `…/node_modules/NAME` (or `@scope/NAME`) that has a package.json is a package, as
 * Node's resolution sees it; symbolic links (pnpm's `node_modules/NAME -> .pnpm/NAME@V/…`) are
 * followed when dependencies are resolved (npm.ts). What the image's node_modules holds is what
 * the SBOM lists: nothing from the lockfile that the install left out.
 */

import type { Resolutions } from './lockfiles.js';
import type { InstalledNpmPackage } from './npm.js';

export interface TreeEntry {
  /** Relative to the app root, no leading slash: `node_modules/a/package.json`. */
  path: string;
  type: 'file' | 'symlink';
  /** A symlink's target, as written. */
  target?: string;
  /** A package root's package.json text (`…/node_modules/NAME/package.json`). */
  text?: string;
}

/** Whether a path is the package.json of a package root in a node_modules directory. */
export function isPackageManifest(path: string): boolean {
  return /(^|\/)node_modules\/(@[^/.][^/]*\/)?[^/.][^/]*\/package\.json$/.test(path);
}

/** `a/b/../c` -> `a/c`; undefined when it leaves the root. */
function normalize(parts: string[]): string | undefined {
  const out: string[] = [];
  for (const p of parts) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (out.pop() === undefined) return undefined;
    } else out.push(p);
  }
  return out.join('/');
}

/** A symlink's target as a path from the root. */
export function linkTarget(path: string, target: string): string | undefined {
  if (target.startsWith('/')) return undefined;
  return normalize([...path.split('/').slice(0, -1), ...target.split('/')]);
}

type Manifest = Record<string, unknown>;

function depNames(m: Manifest): string[] {
  const names = new Set<string>();
  for (const field of [m.dependencies, m.optionalDependencies, m.peerDependencies]) {
    if (field && typeof field === 'object') for (const n of Object.keys(field)) names.add(n);
  }
  return [...names].sort();
}

/**
 * The packages of a node_modules tree with what the lockfile says of each (integrity, resolved),
 * and its links (path -> path from the root) for resolving dependencies.
 */
export function packagesOfTree(
  entries: Iterable<TreeEntry>,
  resolutions: Resolutions,
): { packages: InstalledNpmPackage[]; links: Map<string, string> } {
  const packages: InstalledNpmPackage[] = [];
  const links = new Map<string, string>();
  for (const e of entries) {
    if (e.type === 'symlink') {
      const to = e.target === undefined ? undefined : linkTarget(e.path, e.target);
      if (to !== undefined && e.path.includes('node_modules/')) links.set(e.path, to);
      continue;
    }
    if (e.text === undefined || !isPackageManifest(e.path)) continue;
    let m: Manifest;
    try {
      m = JSON.parse(e.text) as Manifest;
    } catch {
      continue;
    }
    if (!m || typeof m !== 'object') continue;
    const path = e.path.slice(0, -'/package.json'.length);
    const dirName = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const name = typeof m.name === 'string' && m.name !== '' ? m.name : dirName;
    const version = typeof m.version === 'string' && m.version !== '' ? m.version : null;
    const r = version === null ? undefined : resolutions.get(`${name}@${version}`);
    packages.push({
      path,
      name,
      version,
      ...(m.license !== undefined && { license: m.license }),
      ...(m.licenses !== undefined && { licenses: m.licenses }),
      ...(r?.integrity !== undefined && { integrity: r.integrity }),
      ...(r?.resolved !== undefined && { resolved: r.resolved }),
      dependencies: depNames(m),
    });
  }
  packages.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { packages, links };
}
