import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { childProcess, hostEnv } from '../../host.js';

/** What an app's git checkout tells about it: the last commit, whether the tree still matches it, where the source lives. */
export interface GitInfo {
  /** The last commit's hash. */
  revision?: string;
  /** The last commit's time, in seconds. */
  time?: number;
  /**
   * Whether the app directory has changes no commit holds: modified, staged, deleted or untracked
   * files (not ignored ones, nor node_modules and distill's own .distill).
   */
  dirty?: boolean;
  /** `remote.origin.url` when it names a remote (not a local path), credentials removed. */
  source?: string;
}

/**
 * A remote as the OCI source label may show it, or undefined for a local path (`/srv/app.git`,
 * `../app`, `file://…`), which means nothing outside this machine. Git's own rules tell them
 * apart: `scheme://` is a URL; `[user@]host:path` with the colon before any slash is ssh's scp
 * form; anything else is a path. Credentials in an http(s) URL (`https://user:token@host/…`) and
 * a password in any URL are removed; an ssh user name (`git@`) is kept, as cloning needs it.
 */
export function remoteSource(url: string): string | undefined {
  const u = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(u)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (scheme === 'file') return undefined;
    return u.replace(/^([^:]+:\/\/)([^@/]*)@/, (_, pre: string, userinfo: string) =>
      scheme === 'http' || scheme === 'https' ? pre : `${pre}${userinfo.replace(/:.*$/, '')}@`,
    );
  }
  // scp form: a host (no slash before the colon), not a Windows drive letter (C:\…).
  const scp = /^(?:[^@/:]+@)?[^/:]+:/.exec(u);
  if (scp && !/^[A-Za-z]:[\\/]/.test(u)) return u.replace(/^([^@/:]+):[^@/]*@/, '$1@');
  return undefined;
}

/**
 * Whether `dir` may be in a git checkout: a `.git` (a directory, or a file in a worktree or
 * submodule) in it or above it, or GIT_DIR set. When not, git is not started: two processes that
 * cost a tenth of a warm build's time to say there is no checkout.
 */
function mayBeInCheckout(dir: string): boolean {
  if (hostEnv().GIT_DIR) return true;
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true;
    if (dirname(d) === d) return false;
  }
}

/** Reads the git checkout `dir` is in, with the machine's git; nothing when it is none (or git is absent). */
export function gitInfo(dir: string): GitInfo {
  if (!mayBeInCheckout(dir)) return {};
  const git = (...args: string[]) => {
    const r = childProcess().spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : undefined;
  };
  const log = git('log', '-1', '--format=%H %ct')?.trim();
  const out: GitInfo = {};
  if (log) {
    const [rev, t] = log.split(' ');
    if (rev) out.revision = rev;
    if (t && /^\d+$/.test(t)) out.time = Number(t);
    // Only this directory counts (a monorepo's other apps do not change this image).
    const status = git(
      'status',
      '--porcelain',
      '--untracked-files=normal',
      '--',
      '.',
      ':(exclude,glob)**/node_modules/**',
      ':(exclude,glob)**/.distill/**',
    );
    if (status !== undefined) out.dirty = status.trim() !== '';
  }
  const remote = git('config', '--get', 'remote.origin.url')?.trim();
  const source = remote ? remoteSource(remote) : undefined;
  if (source !== undefined) out.source = source;
  return out;
}
