import { lstatSync } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';

/**
 * The frameworks' config files of an app directory, as text, for the plan to read settings
 * from (`output: 'standalone'` in next.config.ts, the adapter in svelte.config.js): read, never
 * run. Only files at the top of the app directory, each capped (a config is a few KiB).
 */
export const CONFIG_FILE =
  /^(next|nuxt|nitro|svelte|astro|react-router|remix|vite)\.config\.(js|cjs|mjs|ts|cts|mts)$|^nest-cli\.json$/;

const MAX_CONFIG_BYTES = 256 * 1024;

/** The config files present, name to text (the first MAX_CONFIG_BYTES of each). */
export async function readConfigFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => CONFIG_FILE.test(n)).sort();
  } catch (err) {
    throw new DistillError('IO', `cannot list ${dir}: ${(err as Error).message}`, { cause: err });
  }
  for (const name of names) {
    const path = join(dir, name);
    if (!(await lstat(path)).isFile()) continue;
    const fh = await open(path, 'r');
    try {
      const buf = Buffer.alloc(MAX_CONFIG_BYTES);
      const { bytesRead } = await fh.read(buf, 0, MAX_CONFIG_BYTES, 0);
      out[name] = buf.subarray(0, bytesRead).toString('utf8');
    } finally {
      await fh.close();
    }
  }
  return out;
}

/**
 * Whether a path relative to `dir` (slash-separated) is a file there, or a symlink (whose
 * target the image's own check resolves), for the plan's entry checks.
 */
export function fileChecker(dir: string): (rel: string) => boolean {
  return (rel) => {
    if (rel.split('/').includes('..')) return false;
    try {
      const st = lstatSync(join(dir, rel));
      return st.isFile() || st.isSymbolicLink();
    } catch {
      return false;
    }
  };
}
