import type { Readable } from 'node:stream';
import type { KeyParts } from './records.js';

/**
 * A remote build cache as the store sees it: one more place the same records live (decision
 * 0022). The store asks it when a record of a shared kind is not on local disk, and tells it of
 * every such record it writes or finds; src/cache implements it against a registry or an OCI
 * layout. Nothing here does I/O: store/ imports nothing above it.
 */

/**
 * The kinds a remote cache shares: results keyed by all of their inputs, whose value and blobs
 * mean the same on every machine. Not the kinds that name local paths (dev-install trees) or
 * whose blobs are cheap to fetch from their source (deb-contents; a hit on `base-os` needs no .deb).
 * The resolutions a plan makes from the npm registry (`build-node`, `build-pm`) are shared with
 * their day's time to live, as `base-lock` is: a fresh runner then asks the registry nothing.
 */
export const SHARED_KINDS = [
  'node-modules',
  'node-modules-index',
  'layer',
  'base-lock',
  'base-os',
  'node-tarball',
  'node-runtime',
  'node-layer',
  'build-node',
  'build-pm',
] as const;

export type SharedKind = (typeof SHARED_KINDS)[number];

export function isSharedKind(kind: string): kind is SharedKind {
  return (SHARED_KINDS as readonly string[]).includes(kind);
}

/** A record as it travels: its value and when it was computed (ms since the epoch). */
export interface RemoteRecord {
  value: unknown;
  at: number;
}

/** A registry repository that holds a blob, which a push to the same registry may mount from. */
export interface RemoteSource {
  registry: string;
  repository: string;
}

/**
 * A blob of a remote cache hit left where it is (decision 0036): the store answers `has` and
 * `size` for it, and brings it in, verified, the first time anything reads it.
 */
export interface RemoteBlob {
  readonly size: number;
  /** The cache entry that names it, for messages: `docker://HOST/REPO:TAG`. */
  readonly where: string;
  /**
   * The blob's bytes from the cache, with any check beyond the digest and size (a layer's
   * diff_id) joined on; the store checks the digest and size itself.
   */
  open(): Promise<Readable>;
  /** The registry repository it can be mounted from. */
  readonly source?: RemoteSource;
}

export interface RemoteRecords {
  /**
   * The record of `kind` for `parts`, when an entry is there and passed every check; its blobs
   * are then in the store, verified. Never throws: a bad entry or a cache that cannot be
   * reached is a warning and a miss.
   */
  get(kind: SharedKind, version: number, parts: KeyParts): Promise<RemoteRecord | undefined>;
  /**
   * Writes the record to the cache in the background unless an entry is there already (a
   * read-only cache ignores it); a failure is a warning, never an error.
   */
  put(kind: SharedKind, version: number, parts: KeyParts, record: RemoteRecord): void;
}
