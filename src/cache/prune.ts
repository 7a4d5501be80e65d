import type { CacheBackend } from './backend.js';
import { CREATED_ANNOTATION, isEntryTag } from './entry.js';

export interface CachePruneResult {
  /** Entries removed (their manifests deleted), by tag. */
  removed: string[];
  kept: number;
  /** Tags that are not distill cache entries: left alone. */
  other: number;
}

/**
 * Removes the entries of a registry cache computed more than `keepMs` ago (their manifest's
 * creation annotation), and entries that cannot be read as one. Other tags are left alone. The
 * registry frees the blobs of deleted manifests in its own garbage collection
 * (docker-registry: `registry garbage-collect`); the registry must allow deletes.
 */
export async function pruneRemoteCache(
  cache: CacheBackend,
  keepMs: number,
  now = Date.now(),
): Promise<CachePruneResult> {
  const result: CachePruneResult = { removed: [], kept: 0, other: 0 };
  for (const tag of await cache.tags()) {
    if (!isEntryTag(tag)) {
      result.other++;
      continue;
    }
    const m = await cache.manifest(tag);
    if (m === undefined) continue; // removed meanwhile
    if (now - createdAt(m.bytes) <= keepMs) {
      result.kept++;
      continue;
    }
    await cache.deleteManifest(m.digest);
    result.removed.push(tag);
  }
  return result;
}

/** When an entry's record was computed; 0 (so: removed) when the manifest does not say. */
function createdAt(bytes: Uint8Array): number {
  try {
    const m = JSON.parse(Buffer.from(bytes).toString('utf8')) as { annotations?: Record<string, unknown> };
    const created = m.annotations?.[CREATED_ANNOTATION];
    const t = typeof created === 'string' ? Date.parse(created) : Number.NaN;
    return Number.isFinite(t) ? t : 0;
  } catch {
    return 0;
  }
}
