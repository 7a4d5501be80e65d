import { cacheBackend } from '../cache/backend.js';
import { RemoteCache } from '../cache/cache.js';
import type { Context } from './context.js';

export interface CacheValues {
  cache?: string;
  'cache-from'?: string[];
  'cache-to'?: string[];
}

/**
 * The remote build cache `--cache`, `--cache-from` and `--cache-to` name, set on the store so
 * that its records of shared kinds are looked up and written there too; undefined without them.
 * The caller awaits `flush()` once the build is done (writes run in the background).
 */
export function remoteCache(v: CacheValues, c: Context): RemoteCache | undefined {
  const both = v.cache === undefined ? [] : [v.cache];
  const from = [...both, ...(v['cache-from'] ?? [])];
  const to = [...both, ...(v['cache-to'] ?? [])];
  if (from.length === 0 && to.length === 0) return undefined;
  const registry = c.media('dest').registry ?? {};
  const cache = new RemoteCache(c.store, {
    from: from.map((r) => cacheBackend(r, registry, to.includes(r))),
    to: to.map((r) => cacheBackend(r, registry, true)),
    warn: c.warn,
    onEvent: (e) => {
      if (e.event === 'hit') c.reporter.step?.(`cache: ${e.kind} from ${e.cache}`);
    },
  });
  c.store.remote = cache;
  return cache;
}
