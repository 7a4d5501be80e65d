import { cacheBackend } from '../cache/backend.js';
import { RemoteCache } from '../cache/cache.js';
import { pruneRemoteCache } from '../cache/prune.js';
import { type Context, usage } from './context.js';

export interface CacheValues {
  cache?: string;
  'cache-from'?: string[];
  'cache-to'?: string[];
}

/**
 * The remote build cache `--cache`, `--cache-from` and `--cache-to` name, set on the store so
 * that its records of shared kinds are looked up and written there too; undefined without them.
 * `outputs`: what the command writes, which decides whether a hit's layers stay in the cache
 * until read (RemoteCacheOptions.outputs); none given means the default, local, output.
 * The caller awaits `flush()` once the build is done (writes run in the background).
 */
export function remoteCache(
  v: CacheValues,
  c: Context,
  outputs: readonly string[] = [],
): RemoteCache | undefined {
  const both = v.cache === undefined ? [] : [v.cache];
  const from = [...both, ...(v['cache-from'] ?? [])];
  const to = [...both, ...(v['cache-to'] ?? [])];
  if (from.length === 0 && to.length === 0) return undefined;
  const registry = c.media('dest').registry ?? {};
  const cache = new RemoteCache(c.store, {
    from: from.map((r) => cacheBackend(r, registry, to.includes(r))),
    to: to.map((r) => cacheBackend(r, registry, true)),
    warn: c.warn,
    outputs,
    onEvent: (e) => {
      if (e.event === 'hit') c.reporter.step?.(`cache: ${e.kind} from ${e.cache}`);
    },
  });
  c.store.remote = cache;
  return cache;
}

/** `distill cache prune REF --keep-days N`: old entries out of a registry cache. */
export async function pruneRegistryCache(
  ref: string,
  keepDays: string | undefined,
  c: Context,
  format: 'text' | 'json',
  print: (s: string) => Promise<void>,
): Promise<number> {
  const m = keepDays === undefined ? null : /^(\d+)d?$/.exec(keepDays);
  if (!m) throw usage('cache prune REF needs --keep-days N: the entries made more than N days ago go');
  const cache = cacheBackend(ref, c.media('dest').registry ?? {}, true);
  const r = await pruneRemoteCache(cache, Number(m[1]) * 86_400_000);
  await print(
    format === 'json'
      ? JSON.stringify(r)
      : `removed ${r.removed.length} entries from ${cache.name}, kept ${r.kept}${r.other > 0 ? ` (and ${r.other} other tags)` : ''}`,
  );
  return 0;
}
