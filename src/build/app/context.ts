import { copyFile, lstat, mkdir, readdir, readFile, readlink, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import dockerignoreModule from '@balena/dockerignore';
import { DistillError, wrapError } from '../../errors.js';
import { comparePaths } from '../../layers/entries.js';
import { SecretSieve } from './secrets.js';

/**
 * What of an app directory goes into the build: everything but what `.dockerignore` and
 * `.distillignore` leave out (Docker's own pattern rules, through @balena/dockerignore, a port
 * of Docker's matcher; `.distillignore` is read after `.dockerignore`, so its `!` lines can take
 * files back), and never `node_modules`, `.git` or distill's own output directory `.distill`.
 * The install's scratch copy gets all of that; the app layer also leaves out what looks like a
 * secret (secrets.ts), but for the paths `--include-secret` names.
 */
// The package is CommonJS (module.exports is the factory) while its types declare an ES default.
const dockerignore = dockerignoreModule as unknown as typeof dockerignoreModule.default;

export const ALWAYS_IGNORED = new Set(['node_modules', '.git', '.distill']);

export interface AppContext {
  dir: string;
  /** Tells whether a path relative to the app (slash-separated) is left out. */
  ignores(relPath: string, isDir: boolean): boolean;
  /** The patterns read, for the plan. */
  patterns: string[];
  /** What of the app layer's files stays out as a secret, and what was found so far. */
  secrets: SecretSieve;
}

async function readPatterns(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw wrapError(err, `reading ${file}`);
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export async function appContext(
  dir: string,
  opts: { includeSecrets?: readonly string[] } = {},
): Promise<AppContext> {
  const patterns = [
    ...(await readPatterns(join(dir, '.dockerignore'))),
    ...(await readPatterns(join(dir, '.distillignore'))),
  ];
  const ig = dockerignore({ ignorecase: false }).add(patterns);
  const negations = patterns.some((p) => p.startsWith('!'));
  return {
    dir,
    patterns,
    secrets: new SecretSieve(opts.includeSecrets),
    ignores(relPath, isDir) {
      if (relPath.split('/').some((s) => ALWAYS_IGNORED.has(s))) return true;
      if (!ig.ignores(relPath)) return false;
      // Docker walks into an excluded directory when an exception could take something in it
      // back; without any `!` pattern nothing below can come back, so the whole tree is skipped.
      return !(isDir && negations);
    },
  };
}

/**
 * Copies the app's files (as `ctx` selects them) into `dest`, keeping symlinks as symlinks.
 * `only`, when given, limits the copy to those relative paths (the manifests an install needs).
 */
export async function copyContext(ctx: AppContext, dest: string, only?: string[]): Promise<number> {
  let n = 0;
  const copyOne = async (rel: string) => {
    const from = join(ctx.dir, rel);
    const to = join(dest, rel);
    const st = await lstat(from);
    if (st.isSymbolicLink()) {
      await symlink(await readlink(from), to);
      n++;
    } else if (st.isDirectory()) {
      await mkdir(to, { recursive: true });
      for (const name of (await readdir(from)).sort(comparePaths)) {
        const child = rel === '' ? name : `${rel}/${name}`;
        const cst = await lstat(join(ctx.dir, child));
        if (!ctx.ignores(child, cst.isDirectory())) await copyOne(child);
      }
    } else if (st.isFile()) {
      await copyFile(from, to);
      n++;
    } else {
      throw new DistillError(
        'ENTRY_INVALID',
        `${from} is a socket, FIFO or device; leave it out with .distillignore`,
      );
    }
  };
  try {
    await mkdir(dest, { recursive: true });
    if (only) {
      for (const rel of only) {
        const exists = await lstat(join(ctx.dir, rel)).then(
          () => true,
          () => false,
        );
        if (!exists) continue;
        await mkdir(join(dest, rel, '..'), { recursive: true });
        await copyOne(rel);
      }
    } else {
      await copyOne('');
    }
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, `copying ${ctx.dir} into ${dest}`);
  }
  return n;
}
