import { parentPort } from 'node:worker_threads';
import { isDistillError } from '../../src/errors.js';
import type { Verdict } from './pool.js';
import { targetNamed } from './targets.js';

/**
 * Runs fuzz inputs sent by pool.ts, one at a time, and answers with a verdict. An exception or
 * rejection nobody handled while an input runs (or just after) is that input's crash: an
 * unhandled 'error' event of a stream is a crash like any other.
 */
const port = parentPort;
if (!port) throw new Error('worker-main.ts runs in a worker thread (pool.ts)');

let current: number | undefined;

function crash(err: unknown, how: string): Verdict {
  const e = err as Error;
  return {
    kind: 'crash',
    detail: `${how}: ${e?.name ?? typeof err}: ${e?.message ?? String(err)}\n${e?.stack ?? ''}`,
  };
}

process.on('uncaughtException', (err) =>
  port.postMessage({ id: current, verdict: crash(err, 'uncaught exception'), late: true }),
);
process.on('unhandledRejection', (err) =>
  port.postMessage({ id: current, verdict: crash(err, 'unhandled rejection'), late: true }),
);

/** Lets events of the input just run (stream errors, closes) happen before the verdict is sent. */
const settle = () => new Promise<void>((r) => setTimeout(() => setImmediate(r), 0));

port.on('message', async (m: { id: number; target: string; input: Uint8Array }) => {
  current = m.id;
  let verdict: Verdict;
  try {
    await targetNamed(m.target).run(m.input);
    verdict = { kind: 'ok' };
  } catch (err) {
    verdict =
      isDistillError(err) && err.code !== 'INTERNAL'
        ? { kind: 'refused', code: err.code }
        : crash(err, 'threw');
  }
  await settle();
  port.postMessage({ id: m.id, verdict });
});
port.postMessage({ ready: true });
