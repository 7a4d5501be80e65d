import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';

/**
 * A Node.js app directory as `distill build` first sees it: package.json parsed, which
 * lockfiles are there, and the version files that may name a Node version. Reads only; the
 * decisions (package manager, Node version, command) are made in src/plan/app.ts.
 */
export interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  type?: string;
  scripts?: Record<string, string>;
  engines?: { node?: string };
  packageManager?: string;
  volta?: { node?: string };
  workspaces?: string[] | { packages?: string[] };
  distill?: { cmd?: string | string[] };
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  [key: string]: unknown;
}

export type LockfileKind = 'package-lock.json' | 'npm-shrinkwrap.json' | 'pnpm-lock.yaml' | 'yarn.lock';

export interface AppDir {
  dir: string;
  packageJson: PackageJson;
  /** Lockfiles present, in the order npm, shrinkwrap, pnpm, yarn. */
  lockfiles: LockfileKind[];
  /** First line of yarn.lock, to tell classic (v1) from berry. */
  yarnLockHeader?: string;
  /** `lockfileVersion` of pnpm-lock.yaml (its major), which tells the pnpm that wrote it. */
  pnpmLockVersion?: string;
  nvmrc?: string;
  nodeVersionFile?: string;
}

const LOCKFILES: LockfileKind[] = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock'];

async function readOptional(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DistillError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export async function readAppDir(dir: string): Promise<AppDir> {
  const pkgPath = join(dir, 'package.json');
  const text = await readOptional(pkgPath);
  if (text === undefined) {
    throw new DistillError(
      'APP_INVALID',
      `${dir} has no package.json; run distill build in a Node.js app's directory (or give its path)`,
    );
  }
  let packageJson: PackageJson;
  try {
    const v = JSON.parse(text) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('it is not a JSON object');
    packageJson = v as PackageJson;
  } catch (err) {
    throw new DistillError('APP_INVALID', `${pkgPath} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const app: AppDir = { dir, packageJson, lockfiles: [] };
  for (const l of LOCKFILES) {
    const content = await readOptional(join(dir, l));
    if (content === undefined) continue;
    app.lockfiles.push(l);
    if (l === 'yarn.lock') app.yarnLockHeader = content.split('\n').find((line) => line.trim() !== '') ?? '';
    if (l === 'pnpm-lock.yaml') {
      const v = /^lockfileVersion:\s*'?(\d+)/m.exec(content)?.[1];
      if (v !== undefined) app.pnpmLockVersion = v;
    }
  }
  const nvmrc = await readOptional(join(dir, '.nvmrc'));
  if (nvmrc !== undefined) app.nvmrc = nvmrc.trim();
  const nodeVersion = await readOptional(join(dir, '.node-version'));
  if (nodeVersion !== undefined) app.nodeVersionFile = nodeVersion.trim();
  return app;
}

/** Workspace globs: package.json `workspaces` (npm, yarn) and pnpm-workspace.yaml `packages`. */
async function workspaceGlobs(app: AppDir): Promise<string[]> {
  const ws = app.packageJson.workspaces;
  const globs = Array.isArray(ws) ? ws : Array.isArray(ws?.packages) ? ws.packages : [];
  const pnpm = await readOptional(join(app.dir, 'pnpm-workspace.yaml'));
  if (pnpm !== undefined) {
    // Only the `packages:` list is needed; its items are plain strings.
    let inPackages = false;
    for (const line of pnpm.split('\n')) {
      if (/^packages\s*:/.test(line)) inPackages = true;
      else if (/^\S/.test(line)) inPackages = false;
      else if (inPackages) {
        const m = /^\s*-\s*['"]?([^'"#]+?)['"]?\s*(#.*)?$/.exec(line);
        if (m) globs.push(m[1]!);
      }
    }
  }
  return globs.filter((g) => typeof g === 'string' && !g.startsWith('!'));
}

async function dirsMatching(root: string, glob: string): Promise<string[]> {
  const parts = glob.replace(/^\.\//, '').replace(/\/+$/, '').split('/');
  let found = [''];
  for (const part of parts) {
    const next: string[] = [];
    for (const rel of found) {
      if (part === '*' || part === '**') {
        const walk = async (r: string, depth: number): Promise<void> => {
          let names: string[];
          try {
            names = (await readdir(join(root, r), { withFileTypes: true }))
              .filter((e) => e.isDirectory() && e.name !== 'node_modules' && !e.name.startsWith('.'))
              .map((e) => e.name);
          } catch {
            return;
          }
          for (const n of names) {
            const child = r === '' ? n : `${r}/${n}`;
            next.push(child);
            if (part === '**' && depth < 4) await walk(child, depth + 1);
          }
        };
        await walk(rel, 0);
      } else {
        next.push(rel === '' ? part : `${rel}/${part}`);
      }
    }
    found = next;
  }
  return found;
}

/** A package of a workspace: its directory relative to the root and its package.json. */
export interface WorkspacePackageDir {
  rel: string;
  packageJson: PackageJson;
}

/** Every package the workspace globs of a root name (directories with a package.json), in glob order. */
export async function workspacePackages(root: AppDir): Promise<WorkspacePackageDir[]> {
  const out: WorkspacePackageDir[] = [];
  const seen = new Set<string>();
  for (const glob of await workspaceGlobs(root)) {
    for (const rel of await dirsMatching(root.dir, glob)) {
      if (seen.has(rel)) continue;
      const text = await readOptional(join(root.dir, rel, 'package.json'));
      if (text === undefined) continue;
      try {
        const pkg = JSON.parse(text) as unknown;
        if (typeof pkg !== 'object' || pkg === null || Array.isArray(pkg)) continue;
        seen.add(rel);
        out.push({ rel, packageJson: pkg as PackageJson });
      } catch {
        // not a package: skipped, as the package managers skip it
      }
    }
  }
  return out;
}

/**
 * The workspace package named `name` in a workspace root: its directory relative to the root
 * and its package.json. An unknown name is APP_INVALID listing the names there are.
 */
export async function findWorkspace(root: AppDir, name: string): Promise<{ rel: string; app: AppDir }> {
  const all = await workspacePackages(root);
  const found = all.find((p) => p.packageJson.name === name);
  if (found) return { rel: found.rel, app: await readAppDir(join(root.dir, found.rel)) };
  const names = all.map((p) => p.packageJson.name).filter((n): n is string => typeof n === 'string');
  throw new DistillError(
    'APP_INVALID',
    names.length === 0
      ? `${root.dir} declares no workspaces (package.json "workspaces" or pnpm-workspace.yaml), so --workspace ${name} names nothing; give the workspace root's directory`
      : `${root.dir} has no workspace named ${name}; its workspaces are ${[...new Set(names)].sort().join(', ')}`,
  );
}
