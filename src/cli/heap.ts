import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

/**
 * Holds V8's young generation (new space: two semi-spaces) at `maxBytes` or below while a command
 * runs; the returned function lets it grow again.
 *
 * V8 doubles the new space whenever the objects that survived collections since the last
 * doubling add up to its size, up to 2 x 16 MB on 64-bit Node 20. `distill inspect` allocates
 * short-lived objects at a high rate while it holds a tree that only grows, so it reached 32 MB
 * on every large image: a fifth of its peak RSS on an image near the cap of 1,000,000 paths, for
 * garbage that dies as young in 4 MB. `--max-semi-space-size` would bound it, but only on the
 * command line: V8 reads it when the heap is made (set at run time, measured, it changes
 * nothing). The growth factor is read at each doubling, so this lets the new space grow as usual
 * until it reaches `maxBytes` and then sets the factor to 1 (a doubling that leaves the size as
 * it is), checking every 20 ms; if V8 shrinks the new space meanwhile (it does when allocation
 * slows), growth is allowed again.
 */
export function holdYoungGeneration(maxBytes: number): () => void {
  let factor = 2;
  const check = () => {
    const size = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size;
    if (size === undefined) return;
    const want = size >= maxBytes ? 1 : 2;
    if (want !== factor) {
      setFlagsFromString(`--semi-space-growth-factor=${want}`);
      factor = want;
    }
  };
  check();
  const timer = setInterval(check, 20);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (factor !== 2) setFlagsFromString('--semi-space-growth-factor=2');
    factor = 2;
  };
}
