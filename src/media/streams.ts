import { pipeline as pipe, type Readable, type Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Chains of streams in src/media are made with these, on `pipeline`, not with `.pipe()`: an
 * error on any stream of a chain destroys them all and ends in one rejection (or on the last
 * stream), so no stream is left erroring with nobody listening (an unhandled 'error' event kills
 * the process) and none keeps reading for nobody.
 */

/** `stream/promises` pipeline over a list: one rejection for an error on any stream, all destroyed. */
export function pipelineAll(streams: (Readable | Writable)[]): Promise<void> {
  return (pipeline as (...s: unknown[]) => Promise<void>)(...streams);
}

/**
 * Joins streams with `pipeline` and returns the last one: an error on any of them destroys them
 * all, the last with that error, which its consumer then sees (no stream is left without an
 * error listener, and none keeps reading for nobody).
 */
export function joined(first: Readable, ...rest: Transform[]): Readable {
  if (rest.length === 0) return first;
  return (pipe as unknown as (...s: unknown[]) => Readable)(first, ...rest, () => {});
}
