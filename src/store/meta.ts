import { readFile, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecordIo } from './records.js';

/**
 * The record files of a store, `meta/<name>` (records.ts gives the names and the format): a
 * read marks the file used (its access time, which `prune --older-than` goes by); a file that
 * does not parse is a miss; writes go through the store's atomic write.
 */
export function metaFiles(
  root: string,
  writeAtomic: (dest: string, data: string) => Promise<void>,
): RecordIo {
  const path = (name: string) => join(root, 'meta', name);
  return {
    read: async (name) => {
      let text: string;
      try {
        text = await readFile(path(name), 'utf8');
      } catch {
        return undefined;
      }
      const st = await stat(path(name)).catch(() => undefined);
      if (st) await utimes(path(name), new Date(), st.mtime).catch(() => {}); // atime marks use, for prune
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return undefined; // a torn or foreign file is a miss
      }
    },
    write: (name, file) => writeAtomic(path(name), JSON.stringify(file)),
    remove: (name) => rm(path(name), { force: true }),
  };
}
