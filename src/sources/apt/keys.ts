import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import { packageRoot } from '../../package-root.js';

/**
 * The directory of the shipped Debian archive keys: `keys/` at the package root.
 */
export function defaultKeysDir(): string {
  return join(packageRoot(), 'keys');
}

/**
 * The Debian archive keys shipped in `keys/` (ASCII-armored, one file per key, written by
 * scripts/update-debian-keys.ts), in file name order.
 */
export async function loadDefaultKeys(dir: string = defaultKeysDir()): Promise<string[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith('.asc')).sort();
  } catch (err) {
    throw new DistillError(
      'APT_KEY_INVALID',
      `the Debian archive keys are missing (${dir}): reinstall distill or run scripts/update-debian-keys.ts`,
      { cause: err },
    );
  }
  if (names.length === 0) {
    throw new DistillError(
      'APT_KEY_INVALID',
      `no Debian archive keys (*.asc) in ${dir}: run scripts/update-debian-keys.ts`,
    );
  }
  return Promise.all(names.map((n) => readFile(`${dir}/${n}`, 'utf8')));
}
