import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import { yamlModule } from '../../sources/app/bins.js';
import type { PackageManagerName } from '../../sources/node/pm.js';

/**
 * How pnpm and yarn berry are told to install another platform's optional packages (issue 20,
 * decision 0024). npm reads npm_config_cpu/os/libc from the environment (install.ts); pnpm and
 * yarn berry do not: pnpm 11 ignores them and its `--cpu/--os/--libc` flags exist on `install`
 * only (`pnpm prune --prod` then puts the host's packages back, checked with pnpm 11.29), and
 * yarn berry's `supportedArchitectures` is a map, which its YARN_* variables cannot carry. Both read
 * `supportedArchitectures` from their settings file: pnpm-workspace.yaml (pnpm 10 and later) and
 * .yarnrc.yml. So while the package manager runs, the scratch copy's file gets
 * `supportedArchitectures: {os: [linux], cpu: [TARGET], libc: [glibc]}` (the rest of it kept as
 * it is), and afterwards the file is put back byte for byte (or removed when the app had none), so
 * that nothing of it reaches the image. The lockfile lists every platform's packages either way,
 * so a frozen install accepts it.
 */
const SETTINGS_FILE: Partial<Record<PackageManagerName, string>> = {
  pnpm: 'pnpm-workspace.yaml',
  'yarn-berry': '.yarnrc.yml',
};

/** Runs `fn` with the package manager's settings in `dir` set to install `cpu`'s linux/glibc packages. */
export async function withTargetArchitectures<T>(
  dir: string,
  pm: PackageManagerName,
  cpu: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const name = SETTINGS_FILE[pm];
  if (name === undefined || cpu === undefined) return fn();
  const file = join(dir, name);
  const original = await readFile(file).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  const { parseDocument } = await yamlModule();
  // An empty file parses to no contents; `{}` gives the setting a map to go into.
  const doc = parseDocument(original?.toString('utf8').trim() ? original.toString('utf8') : '{}');
  if (doc.errors.length > 0) {
    throw new DistillError('APP_INVALID', `${name} in the app is not valid YAML: ${doc.errors[0]!.message}`);
  }
  doc.set('supportedArchitectures', doc.createNode({ os: ['linux'], cpu: [cpu], libc: ['glibc'] }));
  await writeFile(file, doc.toString());
  try {
    return await fn();
  } finally {
    if (original === undefined) await rm(file, { force: true });
    else await writeFile(file, original);
  }
}
