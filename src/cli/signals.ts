import { DistillError } from '../errors.js';

/**
 * Ctrl-C, `kill` and a closed terminal, as an abort: while `work` runs, SIGINT, SIGTERM and
 * SIGHUP abort the signal it was given, so the library stops what it runs (an install's process
 * group is killed, its scratch copy removed). Once `work` has stopped (or after a grace period
 * if it does not), the signal ends distill as it would have without a handler: the exit status a
 * shell sees is the signal's (130 for Ctrl-C), and nothing more is printed. A second signal ends
 * it at once.
 */
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How long an interrupted command may take to stop its commands and remove its scratch copy. */
const GRACE_MS = 5000;

function raise(signal: NodeJS.Signals): Promise<never> {
  // No listener is left: the default action, which ends the process.
  process.kill(process.pid, signal);
  return new Promise<never>(() => {});
}

export async function cancelOnSignals<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let caught: NodeJS.Signals | undefined;
  const stop = () => {
    for (const s of SIGNALS) process.removeListener(s, onSignal);
  };
  function onSignal(signal: NodeJS.Signals): void {
    stop();
    caught = signal;
    controller.abort(new DistillError('ABORTED', `interrupted by ${signal}`));
    setTimeout(() => void raise(signal), GRACE_MS).unref();
  }
  for (const s of SIGNALS) process.on(s, onSignal);
  let result: T;
  try {
    result = await work(controller.signal);
  } catch (err) {
    if (caught !== undefined) return raise(caught);
    throw err;
  } finally {
    stop();
  }
  if (caught !== undefined) return raise(caught);
  return result;
}
