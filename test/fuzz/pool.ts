import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';

/** What became of one fuzz input. */
export type Verdict =
  | { kind: 'ok' }
  | { kind: 'refused'; code: string }
  | { kind: 'crash'; detail: string }
  | { kind: 'hang'; detail: string };

interface Pending {
  id: number;
  resolve: (v: Verdict) => void;
  timer: NodeJS.Timeout;
}

/**
 * Runs fuzz inputs in a worker thread (worker-main.ts), one at a time, each with a deadline: an
 * input that does not end in time is a hang, and the worker is terminated (which stops a spinning
 * loop too) and replaced. A worker that dies (out of memory: its heap is capped) fails its input.
 * A crash reported after an input's verdict (a late 'error' event) is kept and given to the caller
 * with the next verdict.
 */
/**
 * worker-main.ts bundled into one plain module: a worker thread does not inherit the tsx loader
 * (and a worker registering tsx itself started an esbuild service of its own).
 */
function bundleWorker(dir: string): string {
  const outfile = join(dir, 'worker.mjs');
  // buildSync: esbuild's build() leaves its service process running, and now and then referenced,
  // so that the test process did not end.
  buildSync({
    entryPoints: [fileURLToPath(new URL('./worker-main.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    banner: {
      js: "import { createRequire as __fuzzRequire } from 'node:module'; const require = __fuzzRequire(import.meta.url);",
    },
  });
  return outfile;
}

export class FuzzPool {
  private dir: string | undefined;
  private bundled: Promise<string> | undefined;
  private worker: Worker | undefined;
  private ready: Promise<void> | undefined;
  private pending: Pending | undefined;
  private nextId = 1;
  private late: Verdict | undefined;

  constructor(private readonly timeoutMs: number) {}

  private async start(): Promise<void> {
    this.bundled ??= mkdtemp(join(tmpdir(), 'distill-fuzz-worker-')).then((dir) => {
      this.dir = dir;
      return bundleWorker(dir);
    });
    const worker = new Worker(await this.bundled, {
      resourceLimits: { maxOldGenerationSizeMb: 1536 },
      stdout: true,
      stderr: true,
    });
    worker.stdout.resume();
    worker.stderr.resume();
    // The worker never keeps the process alive by itself: while an input runs, its deadline timer
    // does; while the worker starts, the timer below.
    worker.unref();
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      const starting = setTimeout(
        () => reject(new Error('the fuzz worker did not start within 120 s')),
        120_000,
      );
      worker.on('message', (m: { ready?: boolean; id?: number; verdict?: Verdict; late?: boolean }) => {
        if (m.ready) {
          clearTimeout(starting);
          return resolve();
        }
        const p = this.pending;
        if (p && m.id === p.id && m.verdict) {
          this.pending = undefined;
          clearTimeout(p.timer);
          p.resolve(m.verdict);
        } else if (m.late && m.verdict) this.late ??= m.verdict;
      });
      worker.on('error', (err) => {
        clearTimeout(starting);
        reject(err);
        this.fail({ kind: 'crash', detail: `the worker died: ${err.name}: ${err.message}` });
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        this.fail({ kind: 'crash', detail: `the worker exited (code ${code})` });
      });
    });
    return this.ready;
  }

  private fail(v: Verdict): void {
    const p = this.pending;
    if (!p) return;
    this.pending = undefined;
    clearTimeout(p.timer);
    p.resolve(v);
  }

  /** Runs `input` through target `name`. */
  async check(name: string, input: Uint8Array): Promise<Verdict> {
    if (!this.worker) await this.start();
    else await this.ready;
    const worker = this.worker!;
    const id = this.nextId++;
    const verdict = await new Promise<Verdict>((resolve) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.worker = undefined;
        void worker.terminate();
        resolve({ kind: 'hang', detail: `no result within ${this.timeoutMs} ms` });
      }, this.timeoutMs);
      this.pending = { id, resolve, timer };
      worker.postMessage({ id, target: name, input });
    });
    const late = this.late;
    this.late = undefined;
    return late ?? verdict;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Whether a verdict is what every input must end in: a result or a DistillError. */
export function passed(v: Verdict): boolean {
  return v.kind === 'ok' || v.kind === 'refused';
}
