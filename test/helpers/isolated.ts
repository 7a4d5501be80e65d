import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface IsolatedResult {
  /** The process was killed at the deadline: the code under test hung (or spun). */
  timedOut: boolean;
  /** What the script printed last on stdout, parsed as JSON (undefined if it printed none). */
  value: unknown;
  stderr: string;
}

/**
 * Runs `script` (an ES module body; `await` allowed; imports relative to the repository root as
 * `./src/...`) in a child Node with tsx, killed after `ms`. For code that may hang or spin: a
 * spinning loop in the test's own process would keep the test run from ever ending, whatever
 * timeout the test sets. The script reports by printing one JSON value as its last line.
 */
export function runIsolated(script: string, ms: number): Promise<IsolatedResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, ms);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      const last = stdout.trim().split('\n').at(-1);
      let value: unknown;
      try {
        value = last ? JSON.parse(last) : undefined;
      } catch {
        value = undefined;
      }
      resolve({ timedOut, value, stderr });
    });
  });
}
