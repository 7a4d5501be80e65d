import { spawnSync } from 'node:child_process';

/** What an app's git checkout tells about it: the last commit and where the source lives. */
export interface GitInfo {
  /** The last commit's hash. */
  revision?: string;
  /** The last commit's time, in seconds. */
  time?: number;
  /** `remote.origin.url`, credentials removed. */
  source?: string;
}

/** Reads the git checkout `dir` is in, with the machine's git; nothing when it is none (or git is absent). */
export function gitInfo(dir: string): GitInfo {
  const git = (...args: string[]) => {
    const r = spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout.trim() : undefined;
  };
  const log = git('log', '-1', '--format=%H %ct');
  const remote = git('config', '--get', 'remote.origin.url');
  const out: GitInfo = {};
  if (log) {
    const [rev, t] = log.split(' ');
    if (rev) out.revision = rev;
    if (t && /^\d+$/.test(t)) out.time = Number(t);
  }
  // Credentials in a remote URL stay out of the image.
  if (remote) out.source = remote.replace(/\/\/[^@/]+@/, '//');
  return out;
}
