import { lstat, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Walks `root` (not following symlinks) and lists every path whose mode has a group- or
 * world-write bit, with its mode in octal; `paths` counts what was walked.
 */
export async function walkModes(root: string): Promise<{ paths: number; writable: string[] }> {
  const writable: string[] = [];
  let paths = 0;
  const visit = async (p: string): Promise<void> => {
    const st = await lstat(p);
    paths++;
    if (!st.isSymbolicLink() && (st.mode & 0o022) !== 0)
      writable.push(`${p} ${(st.mode & 0o7777).toString(8)}`);
    if (st.isDirectory()) for (const n of await readdir(p)) await visit(join(p, n));
  };
  await visit(root);
  return { paths, writable };
}
