import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DistillError } from './errors.js';

let root: string | undefined;

/**
 * distill's own package directory (package.json, keys/), found by walking up from this module,
 * so it is the same from src/, from dist/ and from the bundled CLI in dist/bundle/.
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const p = join(dir, 'package.json');
    if (existsSync(p)) {
      try {
        if ((JSON.parse(readFileSync(p, 'utf8')) as { name?: unknown }).name === 'distill') {
          root = dir;
          return dir;
        }
      } catch {
        // not ours; keep looking
      }
    }
    const up = dirname(dir);
    if (up === dir)
      throw new DistillError(
        'INTERNAL',
        `cannot find distill's package.json above ${fileURLToPath(import.meta.url)}`,
      );
    dir = up;
  }
}
