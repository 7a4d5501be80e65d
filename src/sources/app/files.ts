import { lstat } from 'node:fs/promises';
import { isAbsolute, join, normalize } from 'node:path';

/**
 * Small questions the plan asks of an app's files: whether a path is there and what it is.
 * Paths are relative to the app directory; one that leaves it is never looked at.
 */
export type PathKind = 'file' | 'dir' | 'symlink' | 'other';

/** A relative path inside the directory, normalised with slashes; undefined when it leaves it. */
export function insideRel(rel: string): string | undefined {
  if (rel === '' || isAbsolute(rel)) return undefined;
  const n = normalize(rel).replace(/\\/g, '/').replace(/\/+$/, '');
  if (n === '.' || n === '..' || n.startsWith('../')) return undefined;
  return n;
}

export async function pathKind(dir: string, rel: string): Promise<PathKind | undefined> {
  const inside = insideRel(rel);
  if (inside === undefined) return undefined;
  const st = await lstat(join(dir, inside)).catch(() => undefined);
  if (!st) return undefined;
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  return 'other';
}
