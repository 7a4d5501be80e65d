import { type ChildProcess, spawn } from 'node:child_process';
import { BIN, type CliResult } from './cli.js';

/**
 * The installed entry point in a separate process, without blocking this one (servers the test
 * runs in-process, such as a local apt repository, keep answering). With `umask`, it is started
 * by a shell that sets that umask first, as a user's shell would.
 */
export function startDistill(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  opts: { umask?: string } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const child =
    opts.umask === undefined
      ? spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env } })
      : spawn('bash', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, BIN, ...args], {
          env: { ...process.env, ...env },
        });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? -1 : 0), stdout, stderr }));
  });
  return { child, done };
}

/** startDistill, awaited. */
export function runDistill(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  opts: { umask?: string } = {},
): Promise<CliResult> {
  return startDistill(args, env, opts).done;
}
