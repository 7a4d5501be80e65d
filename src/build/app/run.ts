import type { ChildProcess } from 'node:child_process';
import { abortError, DistillError } from '../../errors.js';
import { childProcess, killProcessGroup } from '../../host.js';

/**
 * One command of the builder step, run in its own process group, its output kept (the end of it
 * goes into an error) and passed on as it comes, with a heartbeat while it runs: how long it has
 * been running and the last line it printed, so that a long native compile is not silence.
 */
export interface CommandProgress {
  /** The command, as the step line named it ("npm 11.21.3 ci --include=dev"). */
  command: string;
  elapsedMs: number;
  /** The last non-empty line of its output, if any. */
  lastLine?: string;
}

export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Output as it comes. */
  onOutput?: (chunk: string) => void;
  /** Called every `heartbeatMs` while the command runs. */
  onProgress?: (p: CommandProgress) => void;
  /** What onProgress names it. */
  label?: string;
  /** Default 1000 ms. */
  heartbeatMs?: number;
}

export interface RunResult {
  code: number;
  output: string;
  /** The first line of npm's "warn tar TAR_ENTRY_ERROR", found wherever it is in the output. */
  tarError?: string;
}

/**
 * Stops a command and everything it started: each command leads its own process group (it is
 * spawned detached), and the whole group is killed, as its scripts and compilers would otherwise
 * go on writing into the scratch copy. SIGKILL, not SIGTERM: npm answers SIGTERM by rolling back
 * what it installed, which took 2.3 s, for a copy that is removed anyway (decision 0005).
 */
function killGroup(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  killProcessGroup(child.pid);
}

/** npm's warnings about settings it does not know (node-gyp's nodedir is one): noise here. */
export const NPM_NOISE = /^npm warn Unknown (env|user|project) config/;

/** The last non-empty line of a text, without terminal escapes, carriage-return redraws and npm's noise. */
export function lastLineOf(text: string): string | undefined {
  const lines = text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n|\r/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !NPM_NOISE.test(l));
  return lines.at(-1);
}

export function runCommand(cmd: string, args: string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const { signal } = opts;
    const started = Date.now();
    // Its own process group, so that an interrupted build stops it and everything it started.
    const child = childProcess().spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const onAbort = () => killGroup(child);
    signal?.addEventListener('abort', onAbort, { once: true });
    // Only the end is shown on failure; keep at most 1 MiB of it.
    let output = '';
    let tarError: string | undefined;
    let lastLine: string | undefined;
    const beat = opts.onProgress
      ? setInterval(() => {
          opts.onProgress!({
            command: opts.label ?? [cmd, ...args].join(' '),
            elapsedMs: Date.now() - started,
            ...(lastLine !== undefined && { lastLine }),
          });
        }, opts.heartbeatMs ?? 1000)
      : undefined;
    beat?.unref();
    const take = (b: Buffer) => {
      const s = b.toString('utf8');
      opts.onOutput?.(s);
      const from = Math.max(0, output.length - 256);
      output += s;
      lastLine = lastLineOf(output.slice(-4096)) ?? lastLine;
      if (tarError === undefined) {
        const m = /[^\n]*TAR_ENTRY_ERROR[^\n]*(?=\n)/.exec(output.slice(from));
        if (m) tarError = m[0].trim();
      }
      if (output.length > 1 << 20) output = output.slice(-(1 << 19));
    };
    child.stdout.on('data', take);
    child.stderr.on('data', take);
    const stop = () => {
      if (beat) clearInterval(beat);
      signal?.removeEventListener('abort', onAbort);
    };
    child.on('error', (err) => {
      stop();
      reject(new DistillError('APP_BUILD_FAILED', `cannot run ${cmd}: ${err.message}`, { cause: err }));
    });
    // Stopped: done at 'exit', not 'close', as a grandchild holding the pipes would delay 'close'.
    child.on('exit', () => {
      if (signal?.aborted) {
        stop();
        reject(abortError(signal));
      }
    });
    child.on('close', (code, sig) => {
      stop();
      if (signal?.aborted) return reject(abortError(signal));
      resolve({
        code: code ?? (sig ? 128 : 1),
        output,
        ...(tarError !== undefined && { tarError }),
      });
    });
  });
}
