import { readFile } from 'node:fs/promises';
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
  }
  const nvmrc = await readOptional(join(dir, '.nvmrc'));
  if (nvmrc !== undefined) app.nvmrc = nvmrc.trim();
  const nodeVersion = await readOptional(join(dir, '.node-version'));
  if (nodeVersion !== undefined) app.nodeVersionFile = nodeVersion.trim();
  return app;
}
