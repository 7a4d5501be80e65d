import { stat } from 'node:fs/promises';
import { sha256OfFile } from '../attest/index.js';
import type { Store } from '../store/store.js';

/**
 * The SHA-256 of distill's own running file, which the provenance names when no npm hidden
 * lockfile gives the package's integrity (attest/builder.ts): the classic-script bundle that Node
 * 20 runs is 3.3 MB, about 7 ms of CPU to read and hash on every attested build, and a warm build
 * runs the same file as the last one. So the digest is remembered in the store's small records,
 * keyed by the file's path and its stat: device, inode, size, and the modification and change times
 * in nanoseconds. Rewriting the file changes its mtime and its ctime (which no user can set back),
 * and a new install is a new inode; the file is stat'ed again after hashing and the digest is
 * remembered only when nothing changed meanwhile.
 */
export interface BuilderFileRecord {
  sha256: string;
}

declare module '../store/records.js' {
  interface RecordValues {
    'builder-file': BuilderFileRecord;
  }
}

async function statKey(file: string) {
  const s = await stat(file, { bigint: true });
  return {
    path: file,
    dev: s.dev.toString(),
    ino: s.ino.toString(),
    size: s.size.toString(),
    mtime: s.mtimeNs.toString(),
    ctime: s.ctimeNs.toString(),
  };
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * The running file's hex SHA-256: remembered by its stat, else read and hashed (and remembered).
 * The record is a shortcut only: a store that cannot be read or written costs the hash, never the
 * build.
 */
export async function rememberedFileDigest(store: Store, file: string): Promise<string> {
  const records = store.record('builder-file');
  const key = await statKey(file).catch(() => undefined);
  const hit = key && (await records.get(key).catch(() => undefined));
  if (hit !== undefined && HEX64.test(hit.sha256)) return hit.sha256;
  const sha256 = await sha256OfFile(file);
  const after = await statKey(file).catch(() => undefined);
  if (key !== undefined && JSON.stringify(after) === JSON.stringify(key)) {
    await records.put(key, { sha256 }).catch(() => {});
  }
  return sha256;
}
