import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * test/corpus/<target>/<hash>.bin: inputs that once failed a fuzz target (saved by `npm run fuzz`)
 * or reproduce a finding, replayed by corpus.test.ts on every `npm test`.
 */
export const CORPUS = fileURLToPath(new URL('../corpus/', import.meta.url));

export async function saveToCorpus(target: string, input: Uint8Array): Promise<string> {
  const dir = join(CORPUS, target);
  await mkdir(dir, { recursive: true });
  const file = join(dir, `${createHash('sha256').update(input).digest('hex').slice(0, 16)}.bin`);
  await writeFile(file, input);
  return file;
}

export async function corpusFiles(): Promise<{ target: string; file: string; input: Buffer }[]> {
  const out: { target: string; file: string; input: Buffer }[] = [];
  const targets = await readdir(CORPUS, { withFileTypes: true }).catch(() => []);
  for (const t of targets.filter((d) => d.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    for (const f of (await readdir(join(CORPUS, t.name))).filter((n) => n.endsWith('.bin')).sort()) {
      const file = join(CORPUS, t.name, f);
      out.push({ target: t.name, file, input: await readFile(file) });
    }
  }
  return out;
}
