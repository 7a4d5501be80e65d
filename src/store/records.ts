import canonicalize from 'canonicalize';
import { DistillError } from '../errors.js';
import { type Digest, digestHex, digestOf } from '../oci/digest.js';
import type { Descriptor } from '../oci/types.js';
import { isSharedKind, type RemoteRecords } from './remote.js';

/**
 * Remembered records: small JSON values in the store's `meta/` area, each of a declared kind.
 * A kind has a name, a format version and a default time to live, all declared once below; the
 * version and the caller's key parts (plain data, never a hand-built string) are hashed together
 * (sha256 of the canonical JSON, RFC 8785) into the record's file name, so bumping a kind's
 * version makes every old record of it a miss, and two kinds can never collide.
 *
 * A kind's value type is declared once too: in `RecordValues` here when it is plain data, or by
 * the module that owns the value's type, with interface merging, so that store/ imports nothing
 * above it:
 *
 *     declare module '../store/records.js' {
 *       interface RecordValues { 'deb-contents': DebContents }
 *     }
 */

const DAY_MS = 24 * 3600 * 1000;

export interface RecordKindSpec {
  /** Bump when the value's shape or meaning changes: older records then miss. */
  version: number;
  /** Default time to live; a record older than this is a miss. Forever when absent. */
  ttlMs?: number;
  /** What the record remembers, and who reads it. */
  what: string;
}

export const RECORD_KINDS = {
  layer: { version: 1, what: 'a layer made of exactly these entries (build/layercache.ts)' },
  'deb-contents': {
    version: 3,
    what: "a .deb's files as one pack blob, by the .deb's digest (build/base/debfiles.ts)",
  },
  'node-tarball': {
    version: 1,
    what: 'a Node release archive in the store, by version and source (sources/node)',
  },
  'node-runtime': {
    version: 1,
    what: 'bin/node, LICENSE and the ABI of a release archive, by its digest (sources/node)',
  },
  'node-stripped': {
    version: 1,
    what: "a release's bin/node without debug sections and static symbols, by its digest (build/node-layer.ts)",
  },
  'node-layer': {
    version: 1,
    what: "the Node layer of a release archive, by its integrity, strip, epoch and compression, with the release's ABI: a hit reads no release (build/node-layer.ts)",
  },
  'build-node': {
    version: 2,
    ttlMs: DAY_MS,
    what: "the Node releases published for a build's architectures, which its Node version is chosen from",
  },
  'build-pm': {
    version: 2,
    ttlMs: DAY_MS,
    what: "the package manager version a spec resolves to, with its tarball's integrity, for build",
  },
  'base-lock': {
    version: 1,
    ttlMs: DAY_MS,
    what: "a base's lock for a request (build's base and distill base/lock share it)",
  },
  // v2: app images leave tini's static build out (decision 0015).
  'base-image': { version: 2, what: "build's own base images per architecture, by lock and epoch" },
  // v2: the packages' declared licences too (decision 0033).
  'base-os': {
    version: 2,
    what: "build's own base images, their shared libraries and their packages' licences per architecture, by lock and epoch: no .deb is read on a hit (build/app/base-os.ts)",
  },
  'base-files': {
    version: 2,
    what: 'the shared libraries, libc and unsafe layer entries of a --base image, by manifest digest',
  },
  'node-modules': { version: 1, what: 'the node_modules layer of an install, by its inputs' },
  'dev-install': {
    version: 1,
    what: 'the full install before a build script, as a tree in trees/, by its inputs (build/app/devtree.ts)',
  },
  'dev-install-app': {
    version: 1,
    what: 'the tree in trees/ last kept for an app directory, workspace and platform (build/app/devtree.ts)',
  },
  'build-script-run': {
    version: 1,
    what: 'how npm ran a build script (environment it added, shell arguments), by what npm read (build/app/script-replay.ts)',
  },
  'built-app': {
    version: 1,
    what: "the layers a build script's run gave, by every file of the app, the install, the script and its environment (build/app/built.ts)",
  },
  'node-modules-index': {
    version: 1,
    what: "a node_modules layer's paths and package.json fields, by its digest (build/app/treeindex.ts)",
  },
  'builder-file': {
    version: 1,
    what: "the SHA-256 of distill's own running file, which the provenance names, by its path and stat (build/attest-builder.ts)",
  },
  'app-sbom': {
    version: 1,
    what: "an app image's SBOM documents with stand-ins for the image and app layer digests, by everything else they are made of (build/sbom-record.ts)",
  },
} as const satisfies Record<string, RecordKindSpec>;

/** Each kind's value type (see the module comment for kinds declared elsewhere). */
export interface RecordValues {
  layer: { descriptor: Descriptor; diffId: Digest };
  'build-node': { versions: string[]; ltsCodenames: [string, number][]; source: string };
  'build-pm': { version: string; integrity?: string };
  'base-image': Record<string, { manifest: { digest: Digest; mediaType: string; size: number } }>;
  'base-os': Record<string, BaseOsImage>;
  'base-files': {
    libraries: [string, string][];
    libc: { family: 'glibc' | 'musl' | 'none'; version: string | null };
    /** Layer entries that leave the image root (inspect's unsafePaths), at most 1000, and how many more. */
    unsafe: { layer: number; path: string; kind: string; target: string | null }[];
    unsafeOmitted: number;
  };
  'node-modules': { descriptor: Descriptor; diffId: Digest; binPath?: string };
}

/**
 * One architecture's image of a `base-os` record: the manifest, config and layers (with their
 * diff_ids) of distill's base built from a lock, and the shared libraries its packages ship
 * (soname -> path), which the native checks read, and the licences the packages' copyright files
 * declare, which the build's SBOM lists (build/base/licenses.ts).
 */
export interface BaseOsImage {
  manifest: Descriptor;
  config: Descriptor;
  layers: { descriptor: Descriptor; diffId: Digest }[];
  libraries: [string, string][];
  /** Package name -> the License synopses of its DEP-5 copyright file, null when it has none. */
  licenses: [string, string[] | null][];
}

/** A kind that is declared and has a value type. */
export type RecordKind = keyof typeof RECORD_KINDS & keyof RecordValues;

/** What identifies a record within its kind: plain JSON data. */
export type KeyParts =
  | string
  | number
  | boolean
  | null
  | readonly KeyParts[]
  | { readonly [key: string]: KeyParts | undefined };

export interface RecordFile {
  kind: string;
  version: number;
  parts: unknown;
  /** When the value was computed (ms since the epoch), for time to live. */
  at: number;
  value: unknown;
}

export interface RecordOptions<V> {
  /** Overrides the kind's time to live (Infinity: any age). */
  ttlMs?: number;
  /** Compute again even when a record is there (`--pull`). */
  refresh?: boolean;
  /** A record whose value fails this (its blobs were pruned, ...) is a miss. */
  usable?: (value: V) => boolean | Promise<boolean>;
  /** Only the store's own record: the remote cache is neither asked nor told (a cross-check). */
  local?: boolean;
}

/** Where record files are read and written (the store's meta/ area, atomically). */
export interface RecordIo {
  read(name: string): Promise<unknown>;
  write(name: string, file: object): Promise<void>;
  remove(name: string): Promise<void>;
}

function canonical(parts: KeyParts): string {
  try {
    return canonicalize(parts) ?? 'null';
  } catch (err) {
    throw new DistillError('INTERNAL', `record key parts are not plain JSON: ${(err as Error).message}`);
  }
}

/** The file name of a record: hex sha256 of the canonical JSON of kind, version and parts. */
export function recordName(kind: string, version: number, parts: KeyParts): string {
  return digestHex(digestOf(canonical([kind, version, parts] as KeyParts)));
}

/** Typed access to one kind of record. */
export class Records<K extends RecordKind> {
  /** `spec` is the kind's declaration; tests give another (a bumped version). */
  constructor(
    private readonly io: RecordIo,
    readonly kind: K,
    readonly spec: RecordKindSpec = RECORD_KINDS[kind],
    /** A remote build cache (remote.ts), asked on a miss and told of every write of a shared kind. */
    private readonly remote?: RemoteRecords,
  ) {}

  /** The record's file name in meta/. */
  name(parts: KeyParts): string {
    return recordName(this.kind, this.spec.version, parts);
  }

  /**
   * The value, when a record is there, of this kind's version, and younger than its TTL; of a
   * shared kind, else from the remote cache (and a local hit is offered to it).
   */
  async get(
    parts: KeyParts,
    opts: RecordOptions<RecordValues[K]> = {},
  ): Promise<RecordValues[K] | undefined> {
    const local = await this.getLocal(parts, opts);
    const remote =
      this.remote !== undefined && isSharedKind(this.kind) && opts.local !== true ? this.remote : undefined;
    if (remote === undefined || !isSharedKind(this.kind)) return local?.value;
    if (local !== undefined) {
      remote.put(this.kind, this.spec.version, parts, local);
      return local.value;
    }
    const found = await remote.get(this.kind, this.spec.version, parts);
    const value = found?.value as RecordValues[K] | undefined;
    if (!found || !(await this.fresh(found.at, value as RecordValues[K], opts))) return undefined;
    await this.write(parts, value as RecordValues[K], found.at);
    return value;
  }

  private async getLocal(
    parts: KeyParts,
    opts: RecordOptions<RecordValues[K]>,
  ): Promise<{ value: RecordValues[K]; at: number } | undefined> {
    const file = (await this.io.read(this.name(parts))) as Partial<RecordFile> | undefined;
    if (!file || typeof file !== 'object' || !('value' in file)) return undefined;
    if (file.kind !== this.kind || file.version !== this.spec.version) return undefined;
    if (canonical(file.parts as KeyParts) !== canonical(JSON.parse(JSON.stringify(parts)) as KeyParts)) {
      return undefined;
    }
    const value = file.value as RecordValues[K];
    return (await this.fresh(file.at, value, opts)) ? { value, at: file.at as number } : undefined;
  }

  /** Younger than the time to live, and usable. */
  private async fresh(at: unknown, value: RecordValues[K], opts: RecordOptions<RecordValues[K]>) {
    const ttl = opts.ttlMs ?? this.spec.ttlMs ?? Number.POSITIVE_INFINITY;
    if (typeof at !== 'number' || Date.now() - at >= ttl) return false;
    return !opts.usable || (await opts.usable(value));
  }

  private async write(parts: KeyParts, value: RecordValues[K], at: number): Promise<void> {
    const plain = JSON.parse(JSON.stringify(parts)) as unknown;
    await this.io.write(this.name(parts), {
      kind: this.kind,
      version: this.spec.version,
      parts: plain,
      at,
      value,
    });
  }

  /** Records the value (and, for a shared kind, writes it to the remote cache in the background). */
  async put(parts: KeyParts, value: RecordValues[K]): Promise<void> {
    const at = Date.now();
    await this.write(parts, value, at);
    if (this.remote && isSharedKind(this.kind))
      this.remote.put(this.kind, this.spec.version, parts, { value, at });
  }

  async delete(parts: KeyParts): Promise<void> {
    await this.io.remove(this.name(parts));
  }
}

/**
 * The remembered value, else `compute()`'s, recorded. Within one process, callers asking for
 * the same record at once share one computation; across processes the last writer wins (the
 * file is replaced atomically, so a reader sees one whole record or the other).
 */
export async function remember<K extends RecordKind>(
  records: Records<K>,
  inflight: Map<string, Promise<unknown>>,
  parts: KeyParts,
  compute: () => Promise<RecordValues[K]>,
  opts: RecordOptions<RecordValues[K]> = {},
): Promise<RecordValues[K]> {
  const name = `${opts.refresh ? 'refresh' : 'get'}:${records.kind}/${records.name(parts)}`;
  const running = inflight.get(name);
  if (running) return running as Promise<RecordValues[K]>;
  const work = (async () => {
    if (!opts.refresh) {
      const hit = await records.get(parts, opts);
      if (hit !== undefined) return hit;
    }
    const value = await compute();
    await records.put(parts, value);
    return value;
  })();
  inflight.set(name, work);
  try {
    return await work;
  } finally {
    inflight.delete(name);
  }
}
