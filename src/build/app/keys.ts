import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { entriesFromDirectory } from '../../layers/directory.js';
import { digestOf } from '../../oci/digest.js';
import type { AppContext } from './context.js';
import type { InstallSteps } from './install.js';

/**
 * The cache keys of the builder step, by meaning: what the install reads, not when or where.
 *
 * - The full install (node_modules before the build script, devDependencies included) is keyed
 *   by the files the install reads (package.json files, the lockfile, the package managers'
 *   config, patches, local-path dependencies; every file of the app when its own lifecycle
 *   scripts run during the install), the package manager, Node and its ABI, the platform and the
 *   workspace packages built. Not by the base: the install does not see it.
 * - The production node_modules layer takes the same, plus the build step's shape, the bin the
 *   command runs and the base (its native files were checked against the base's libraries).
 */
export interface KeyInputs {
  ctx: AppContext;
  /** The app's files (appFiles), read once per build however many keys need them (appFilesOnce). */
  app: () => Promise<Record<string, string>>;
  /** Paths relative to the app root that the install reads (the plan's install.inputs). */
  inputs: readonly string[];
  /** Every file of the app is part of the key (the plan's install.wholeApp). */
  wholeApp: boolean;
  /** Package manager spec, Node version, ABI, arch, base. */
  keyParts: Record<string, string>;
  steps: InstallSteps;
  bin?: string;
  /** The prune rules' version, or 'off': what the production layer leaves out. */
  prune?: string;
  /** `--trace`: what reaches into node_modules is the app's code, so every file of the app is in the key. */
  trace?: unknown;
}

async function digestPath(dir: string, rel: string, files: Record<string, string>): Promise<void> {
  const p = join(dir, rel);
  const st = await lstat(p).catch(() => undefined);
  if (!st) return;
  if (st.isFile()) files[rel] = digestOf(await readFile(p));
  else if (st.isSymbolicLink()) files[rel] = `-> ${await readlink(p)}`;
  else if (st.isDirectory()) {
    for (const e of await entriesFromDirectory(p, { ignore: (r) => r.split('/').includes('node_modules') })) {
      if (e.type === 'file' && e.source.kind === 'path') {
        files[`${rel}/${e.path}`] = digestOf(await readFile(e.source.path));
      } else if (e.type === 'symlink') files[`${rel}/${e.path}`] = `-> ${e.target}`;
    }
  }
}

/** Digests of every file of the app (as `.dockerignore` lets them through), by path. */
export async function appFiles(ctx: AppContext): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  const entries = await entriesFromDirectory(ctx.dir, {
    ignore: (rel, info) => ctx.ignores(rel, info.type === 'dir'),
  });
  for (const e of entries) {
    if (e.type === 'file' && e.source.kind === 'path')
      files[e.path] = digestOf(await readFile(e.source.path));
    else if (e.type === 'symlink') files[e.path] = `-> ${e.target}`;
  }
  return files;
}

/** appFiles of `ctx`, read at most once: the install keys and the built-app key both need them. */
export function appFilesOnce(ctx: AppContext): () => Promise<Record<string, string>> {
  let files: Promise<Record<string, string>> | undefined;
  return () => {
    files ??= appFiles(ctx);
    return files;
  };
}

/** Digests of what the install reads, by path. */
async function inputFiles(k: KeyInputs): Promise<Record<string, string>> {
  if (k.wholeApp) return k.app();
  const files: Record<string, string> = {};
  for (const rel of k.inputs) await digestPath(k.ctx.dir, rel, files);
  return files;
}

export async function installKeys(k: KeyInputs): Promise<{ dev: string; prod: string }> {
  const files = await inputFiles(k);
  // Neither the base nor the layers' compression changes what the install makes.
  const { base, layers, ...parts } = k.keyParts;
  const dev = digestOf(
    JSON.stringify({
      files,
      workspace: k.steps.workspace ?? null,
      built: k.steps.workspaces?.map((w) => w.name) ?? null,
      targetArch: k.steps.targetArch ?? null,
      ...(k.steps.cross !== undefined && { cross: k.steps.cross }),
      ...parts,
    }),
  );
  const prod = digestOf(
    JSON.stringify({
      files,
      steps: k.steps,
      bin: k.bin ?? null,
      ...k.keyParts,
      ...(k.prune !== undefined && { prune: k.prune }),
      ...(k.trace !== undefined && { trace: k.trace, app: await k.app() }),
    }),
  );
  return { dev, prod };
}
