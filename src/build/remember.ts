import type { Store } from '../store/store.js';

/**
 * The one place build/ names the records it keeps in the store's meta area. Each record kind is
 * versioned in its name (`build-node:v1`); its key is the kind and the parts that identify one
 * record, joined as the callers have always joined them, so caches made before keep working.
 * (The store is gaining typed records of its own, `store.remember(kind, parts)`: every call
 * below then changes in one line.)
 */
export type RecordKind =
  /** The exact Node version a spec means for a set of architectures and a mirror. */
  | 'build-node:v1'
  /** The exact version a package manager spec means for a Node version. */
  | 'build-pm:v1'
  /** The base lock of a `distill build` request, without reading the indexes again for a day. */
  | 'build-base-lock:v1'
  /** The base of `distill build` as built images, per architecture. */
  | 'build-base-image:v1'
  /** The shared libraries and libc of a --base image. */
  | 'build-base-files:v1'
  /** A base lock by the request and the hashes of the indexes it was resolved from. */
  | 'lock:v2'
  /** The node_modules layer by everything an install reads. */
  | 'app-node-modules:v2';

export function recordKey(kind: RecordKind, parts: string): string {
  return `${kind}:${parts}`;
}

export function getRecord<T>(store: Store, kind: RecordKind, parts: string): Promise<T | undefined> {
  return store.getMeta<T>(recordKey(kind, parts));
}

export function putRecord(store: Store, kind: RecordKind, parts: string, value: unknown): Promise<void> {
  return store.putMeta(recordKey(kind, parts), value);
}

/** How long a remembered resolution is used before it is made again (a day). */
export const RESOLVE_TTL_MS = 24 * 3600 * 1000;

/**
 * The value remembered for a key when it is younger than the TTL (and `refresh` is not asked,
 * as `--pull` does), else `compute()`'s, remembered from now.
 */
export async function remember<T>(
  store: Store,
  kind: RecordKind,
  parts: string,
  compute: () => Promise<T>,
  opts: { refresh?: boolean; ttlMs?: number } = {},
): Promise<T> {
  const hit = await getRecord<{ at: number; value: T }>(store, kind, parts);
  if (!opts.refresh && hit && Date.now() - hit.at < (opts.ttlMs ?? RESOLVE_TTL_MS)) return hit.value;
  const value = await compute();
  await putRecord(store, kind, parts, { at: Date.now(), value });
  return value;
}
