import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Bytes of layer data between two looks at the ArrayBuffers in use (see holdMemory). */
const LOOK_EVERY = 2 ** 20;
/** ArrayBuffers allowed beyond the lowest level seen before a young collection is asked for. */
const BUFFER_SLACK = 2 * 2 ** 20;

export interface MemoryHold {
  /** To be told the size of every chunk of layer data read (InspectOptions.onLayerChunk). */
  chunk(bytes: number): void;
  /** Ends the hold. */
  release(): void;
}

/**
 * Keeps what V8 holds beside the data a command keeps to a bounded size while the command runs:
 * the young generation at `maxYoung` bytes, and the buffers layers are read through collected
 * once 2 MB of them may be dead. For `distill inspect`, which holds a growing tree while it makes
 * garbage at a high rate and streams layers through a new 256 KiB buffer per chunk.
 *
 * Young generation: V8 doubles the new space whenever the objects that survived collections
 * since the last doubling add up to its size, up to 2 x 16 MB on 64-bit Node 20; inspect reached
 * that on every large image, a fifth of its peak RSS on an image near the cap of 1,000,000 paths,
 * for garbage that dies as young in 4 MB. `--max-semi-space-size` would bound it, but only on
 * the command line: V8 reads it when the heap is made (set at run time, measured, it changes
 * nothing). The growth factor is read at each doubling, so the new space grows as usual until it
 * reaches `maxYoung`, then the factor is set to 1 (a doubling that leaves the size as it is); if
 * V8 shrinks the new space meanwhile (it does when allocation slows), growth is allowed again.
 * Checked every 20 ms.
 *
 * Buffers: a chunk's buffer is freed only when a collection finds it dead. While a large file is
 * skipped little else is allocated, so no young collection comes for hundreds of MB, and V8
 * reacts to memory outside its heap only tens of MB later. So every 1 MB of layer data the
 * ArrayBuffers in use are looked at, and when they are 2 MB past the lowest level seen since the
 * last collection asked for, a young collection is asked for: V8's gc(), taken from a context
 * of its own made with --expose-gc for a moment. Measured (2 to 5 runs each): bench/inspect's
 * near-the-cap image with a 600 MB file added in a last layer peaked at 144-154 MB without this,
 * 138-145 MB looking every 4 MB with 8 MB of slack, 128 MB as here; its 300 MB and 600 MB images
 * at 97-100 MB without, 73-77 MB with; the near-the-cap image itself at 124 MB either way; no
 * change in time beyond the noise (the collections, 100 to 315 of them, took 46-116 ms in all).
 */
export function holdMemory(maxYoung: number): MemoryHold {
  let factor = 2;
  const young = () => {
    const size = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size;
    if (size === undefined) return;
    const want = size >= maxYoung ? 1 : 2;
    if (want !== factor) {
      setFlagsFromString(`--semi-space-growth-factor=${want}`);
      factor = want;
    }
  };
  young();
  const timer = setInterval(young, 20);
  timer.unref();

  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (opts?: { type: 'minor' | 'major' }) => void;
  setFlagsFromString('--no-expose-gc');
  let floor = process.memoryUsage().arrayBuffers;
  let since = 0;
  return {
    chunk(bytes) {
      since += bytes;
      if (since < LOOK_EVERY) return;
      since = 0;
      const buffers = process.memoryUsage().arrayBuffers;
      if (buffers > floor + BUFFER_SLACK) {
        gc({ type: 'minor' });
        floor = buffers;
      } else if (buffers < floor) floor = buffers;
    },
    release() {
      clearInterval(timer);
      if (factor !== 2) setFlagsFromString('--semi-space-growth-factor=2');
      factor = 2;
    },
  };
}
