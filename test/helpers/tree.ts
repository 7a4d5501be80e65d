import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** Writes the files of `map` (path relative to `root` -> text) under `root`, making directories. */
export async function writeTree(root: string, map: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(map)) {
    await mkdir(dirname(join(root, rel)), { recursive: true });
    await writeFile(join(root, rel), text);
  }
}
