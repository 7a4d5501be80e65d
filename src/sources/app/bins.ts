import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import type { AppDir, PackageJson } from './read.js';

/**
 * Which dependency provides a bin, and whether it is a production one, read from the lockfile
 * before anything installs: `next start` in scripts.start runs the bin `next`, and the image
 * holds only production dependencies, so a bin of a dev dependency (`nest start`: @nestjs/cli)
 * would be found missing only after the install. What each lockfile tells:
 * - package-lock.json / npm-shrinkwrap.json (v2, v3): every installed package with its `bin`
 *   map and `dev: true` when only dev dependencies need it: exact.
 * - yarn.lock of yarn 2+ (YAML): each resolution's `bin` map; prod or dev from package.json.
 * - pnpm-lock.yaml: the importer's dependencies and devDependencies, and `hasBin` per package,
 *   but not the bins' names: a package whose name is the bin's (or a known owner) is exact, and a
 *   bin no production dependency could provide (none has bins) is known missing.
 * - yarn.lock v1 and package-lock.json v1: no bins; package.json's names as for pnpm.
 */
export interface BinOwner {
  /** The package that provides the bin. */
  pkg: string;
  /** Whether it is installed with production dependencies only. */
  prod: boolean;
}

export interface BinIndex {
  /** The lockfile read, for messages. */
  lockfile: string;
  /**
   * The owner of `bin`: a production one when there is one, else a dev one; undefined when the
   * lockfile says no production dependency provides it; 'unknown' when it cannot tell (the
   * install will).
   */
  owner(bin: string): BinOwner | 'unknown' | undefined;
}

/** Bins whose owner's name differs from the bin, for lockfiles that do not name bins. */
const KNOWN_OWNERS: Record<string, string> = {
  nest: '@nestjs/cli',
  'react-router-serve': '@react-router/serve',
  'remix-serve': '@remix-run/serve',
  tsc: 'typescript',
  nuxi: 'nuxi',
  'ts-node': 'ts-node',
  'http-server': 'http-server',
  pm2: 'pm2',
  'pm2-runtime': 'pm2',
};

/** Direct dependencies of a package.json by name: true when production (dependencies, optional, peer). */
function directDeps(pkg: PackageJson): Map<string, boolean> {
  const deps = new Map<string, boolean>();
  for (const name of Object.keys(pkg.devDependencies ?? {})) deps.set(name, false);
  for (const field of ['dependencies', 'optionalDependencies'] as const) {
    const d = pkg[field];
    if (d && typeof d === 'object') for (const name of Object.keys(d)) deps.set(name, true);
  }
  return deps;
}

const shortName = (pkg: string) => pkg.replace(/^@[^/]+\//, '');

/** An owner from package.json names alone: a direct dependency named as the bin, or its known owner. */
function byName(deps: Map<string, boolean>, bin: string): BinOwner | undefined {
  const known = KNOWN_OWNERS[bin];
  for (const [name, prod] of [...deps].sort((a, b) => Number(b[1]) - Number(a[1]))) {
    if (name === known || name === bin || shortName(name) === bin) return { pkg: name, prod };
  }
  return undefined;
}

/** package-lock.json v2/v3: `packages["node_modules/X"].bin` and `.dev`. */
export function npmLockBins(text: string, file: string, wsRel = ''): Map<string, BinOwner[]> | undefined {
  let lock: { lockfileVersion?: number; packages?: Record<string, { bin?: unknown; dev?: boolean }> };
  try {
    lock = JSON.parse(text) as typeof lock;
  } catch (err) {
    throw new DistillError('APP_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!lock.packages || typeof lock.packages !== 'object') return undefined; // v1: no bins
  const bins = new Map<string, BinOwner[]>();
  const prefixes = wsRel === '' ? ['node_modules/'] : [`${wsRel}/node_modules/`, 'node_modules/'];
  for (const [path, entry] of Object.entries(lock.packages)) {
    const prefix = prefixes.find((p) => path.startsWith(p));
    if (prefix === undefined || !entry || typeof entry.bin !== 'object' || entry.bin === null) continue;
    const name = path.slice(prefix.length);
    // Only packages at the top of a node_modules: their bins are the ones linked in .bin.
    if (name.includes('/node_modules/') || name.split('/').length > (name.startsWith('@') ? 2 : 1)) continue;
    for (const bin of Object.keys(entry.bin)) {
      const list = bins.get(bin) ?? [];
      list.push({ pkg: name, prod: entry.dev !== true });
      bins.set(bin, list);
    }
  }
  return bins;
}

/**
 * The YAML parser, loaded when a lockfile needs it: it is a quarter of a megabyte of code that an
 * npm app's build would otherwise compile on every start.
 */
export async function yamlModule(): Promise<typeof import('yaml')> {
  const m = await import('yaml');
  // The bundle (scripts/bundle.mjs) makes yaml's CommonJS build a module with a default export
  // only: every user of yaml loads it here.
  return m.parse !== undefined ? m : (m as unknown as { default: typeof m }).default;
}

async function yamlParser(): Promise<typeof import('yaml').parse> {
  return (await yamlModule()).parse;
}

/** yarn 2+ yarn.lock: each resolution's `bin`, by package name. */
export async function yarnBerryLockBins(text: string, file: string): Promise<Map<string, Set<string>>> {
  const parseYaml = await yamlParser();
  let lock: Record<string, { bin?: unknown }>;
  try {
    lock = (parseYaml(text, { maxAliasCount: 0 }) ?? {}) as typeof lock;
  } catch (err) {
    throw new DistillError('APP_INVALID', `${file} is not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const bins = new Map<string, Set<string>>();
  for (const [key, entry] of Object.entries(lock)) {
    if (key === '__metadata' || !entry || typeof entry.bin !== 'object' || entry.bin === null) continue;
    const first = key.split(',')[0]!.trim();
    const name = first.slice(0, first.indexOf('@', 1));
    for (const bin of Object.keys(entry.bin)) {
      const owners = bins.get(bin) ?? new Set<string>();
      owners.add(name);
      bins.set(bin, owners);
    }
  }
  return bins;
}

/** pnpm-lock.yaml: the importer's direct dependencies, and which of them have bins. */
export async function pnpmLockDeps(
  text: string,
  file: string,
  importer: string,
): Promise<{ deps: Map<string, boolean>; withBins: Set<string> } | undefined> {
  const parseYaml = await yamlParser();
  let lock: {
    importers?: Record<string, Record<string, Record<string, { version?: string } | string>>>;
    packages?: Record<string, { hasBin?: boolean }>;
    dependencies?: unknown;
  };
  try {
    lock = (parseYaml(text, { maxAliasCount: 0 }) ?? {}) as typeof lock;
  } catch (err) {
    throw new DistillError('APP_INVALID', `${file} is not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  // A lockfile of one project (no workspace) may keep its dependencies at the top (pnpm < 7).
  const imp = lock.importers?.[importer] ?? (importer === '.' ? (lock as never) : undefined);
  if (!imp) return undefined;
  const deps = new Map<string, boolean>();
  const versions = new Map<string, string>();
  for (const [field, prod] of [
    ['devDependencies', false],
    ['dependencies', true],
    ['optionalDependencies', true],
  ] as const) {
    for (const [name, v] of Object.entries(imp[field] ?? {})) {
      deps.set(name, prod);
      const version = typeof v === 'string' ? v : v?.version;
      if (typeof version === 'string') versions.set(name, version.replace(/\(.*$/, ''));
    }
  }
  const withBins = new Set<string>();
  for (const [key, pkg] of Object.entries(lock.packages ?? {})) {
    if (!pkg?.hasBin) continue;
    const k = key.replace(/^\//, '');
    const at = k.indexOf('@', 1);
    const name = k.slice(0, at);
    const version = k.slice(at + 1).replace(/\(.*$/, '');
    if (versions.get(name) === version) withBins.add(name);
  }
  return { deps, withBins };
}

async function readText(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new DistillError('IO', `cannot read ${path}: ${err.message}`, { cause: err });
  });
}

/**
 * The bins an app's lockfile knows. `root` holds the lockfile; `app` is the package whose
 * command runs (the root itself, or a workspace package at `wsRel`).
 */
export async function readBinIndex(root: AppDir, app: AppDir, wsRel = ''): Promise<BinIndex> {
  const deps = directDeps(app.packageJson);
  const lockfile = root.lockfiles[0];
  const unknownOr = (bin: string) => byName(deps, bin) ?? 'unknown';
  if (lockfile === undefined) return { lockfile: 'no lockfile', owner: unknownOr };
  const path = join(root.dir, lockfile);
  const text = await readText(path);
  if (text === undefined) return { lockfile, owner: unknownOr };
  if (lockfile === 'package-lock.json' || lockfile === 'npm-shrinkwrap.json') {
    const bins = npmLockBins(text, path, wsRel);
    if (!bins) return { lockfile, owner: unknownOr };
    return {
      lockfile,
      owner: (bin) => {
        const owners = bins.get(bin) ?? [];
        return owners.find((o) => o.prod) ?? owners[0];
      },
    };
  }
  if (lockfile === 'yarn.lock') {
    if (!/^__metadata:/m.test(text)) return { lockfile, owner: unknownOr };
    const bins = await yarnBerryLockBins(text, path);
    return {
      lockfile,
      owner: (bin) => {
        const owners = [...(bins.get(bin) ?? [])].filter((n) => deps.has(n));
        const prod = owners.find((n) => deps.get(n));
        if (prod !== undefined) return { pkg: prod, prod: true };
        if (owners[0] !== undefined) return { pkg: owners[0], prod: false };
        // Owned by a dependency of a dependency: linked where the install puts it, maybe.
        return bins.has(bin) ? 'unknown' : undefined;
      },
    };
  }
  const pnpm = await pnpmLockDeps(text, path, wsRel === '' ? '.' : wsRel);
  if (!pnpm) return { lockfile, owner: unknownOr };
  return {
    lockfile,
    owner: (bin) => {
      const named = byName(pnpm.deps, bin);
      if (named && (!named.prod || pnpm.withBins.has(named.pkg))) return named;
      // pnpm links the bins of direct dependencies only: with none that has bins, nothing runs it.
      return [...pnpm.withBins].some((n) => pnpm.deps.get(n)) ? 'unknown' : undefined;
    },
  };
}
