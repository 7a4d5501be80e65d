import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FILE_MODE } from '../../store/modes.js';
import { ownedTempName } from '../../store/owner.js';

/** Writes through a temp file beside `path` and a rename: `path` is whole, or as it was. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | Iterable<string>,
): Promise<void> {
  const tmp = join(dirname(path), ownedTempName(`${basename(path)}.`, '.tmp'));
  try {
    await writeFile(tmp, data, { mode: FILE_MODE });
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
