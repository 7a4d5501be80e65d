import canonicalize from 'canonicalize';
import { DistillError } from '../errors.js';
import { digestOf } from '../oci/digest.js';
import { MediaType } from '../oci/mediatypes.js';
import type { Descriptor, ManifestJson } from '../oci/types.js';
import { type KeyParts, recordName } from '../store/records.js';
import type { RemoteRecord, SharedKind } from '../store/remote.js';
import { blobsOf, type CacheBlob } from './kinds.js';

/**
 * A cache entry (decision 0022): an OCI image manifest of artifact type CACHE_ARTIFACT_TYPE
 * whose config blob is the record (kind, version, key parts, when, value: canonical JSON) and
 * whose layers are the blobs the value names, in order. It is found by its tag alone, derived
 * from the key; the manifest's annotations repeat the key so a listing can tell entries apart
 * and a prune can date them without reading the configs.
 */
export const CACHE_ARTIFACT_TYPE = 'application/vnd.distill.cache.v1';
export const RECORD_MEDIA_TYPE = 'application/vnd.distill.cache.record.v1+json';
export const KEY_ANNOTATION = 'dev.distill.cache.key';
export const CREATED_ANNOTATION = 'org.opencontainers.image.created';

/** A record's size cap: node_modules indexes of big apps run to a few MB. */
const RECORD_MAX = 64 * 1024 * 1024;

/** What a cache entry's config blob holds. */
export interface EntryRecord extends RemoteRecord {
  kind: SharedKind;
  version: number;
  parts: KeyParts;
}

/** The record's name (hex sha256 over kind, version and parts), as the local store names it. */
export function entryKey(kind: SharedKind, version: number, parts: KeyParts): string {
  return recordName(kind, version, parts);
}

/** The tag an entry is found by: `<kind>-v<version>-<key>` (at most 128 characters, as tags must). */
export function entryTag(kind: SharedKind, version: number, parts: KeyParts): string {
  return `${kind}-v${version}-${entryKey(kind, version, parts)}`;
}

/** Whether a tag names a cache entry (a prune leaves every other tag alone). */
export function isEntryTag(tag: string): boolean {
  return /^[a-z-]+-v\d+-[0-9a-f]{64}$/.test(tag);
}

/** The config blob's bytes and the manifest of an entry for `record` carrying `blobs`. */
export function encodeEntry(
  record: EntryRecord,
  blobs: readonly CacheBlob[],
): { config: Buffer; manifest: ManifestJson } {
  // Not canonical JSON: descriptors in the value keep their key order, which the manifests
  // made from them show (the key parts are compared canonically).
  const config = Buffer.from(JSON.stringify(record), 'utf8');
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    artifactType: CACHE_ARTIFACT_TYPE,
    config: { mediaType: RECORD_MEDIA_TYPE, digest: digestOf(config), size: config.length },
    layers: blobs.map((b) => ({
      mediaType: b.descriptor.mediaType,
      digest: b.descriptor.digest,
      size: b.descriptor.size,
    })),
    annotations: {
      [KEY_ANNOTATION]: entryKey(record.kind, record.version, record.parts),
      [CREATED_ANNOTATION]: new Date(record.at).toISOString(),
    },
  };
  return { config, manifest };
}

function invalid(where: string, what: string): DistillError {
  return new DistillError(
    'MANIFEST_INVALID',
    `cache entry ${where} ${what}; it is ignored and the result built again`,
  );
}

/** The manifest of an entry, checked for what it must be before its config is read. */
export function checkEntryManifest(bytes: Uint8Array, key: string, where: string): ManifestJson {
  let m: ManifestJson;
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as ManifestJson;
  } catch {
    throw invalid(where, 'is not JSON');
  }
  if (typeof m !== 'object' || m === null || m.artifactType !== CACHE_ARTIFACT_TYPE) {
    throw invalid(where, `is not a distill cache entry (artifactType ${CACHE_ARTIFACT_TYPE})`);
  }
  if (m.config?.mediaType !== RECORD_MEDIA_TYPE || !Array.isArray(m.layers))
    throw invalid(where, 'has no record');
  if (typeof m.config.size !== 'number' || m.config.size > RECORD_MAX) {
    throw invalid(where, `has a record of ${String(m.config.size)} bytes (at most ${RECORD_MAX})`);
  }
  if (m.annotations?.[KEY_ANNOTATION] !== key) {
    throw invalid(where, `is for key ${String(m.annotations?.[KEY_ANNOTATION])}, not ${key}`);
  }
  return m;
}

const same = (a: unknown, b: unknown) => canonicalize(a) === canonicalize(b);

/**
 * The record in an entry's config blob (already verified against its digest), checked against
 * the key asked for and the manifest: the same kind, version and key parts, and the layers
 * exactly the blobs the value names.
 */
export function checkEntryRecord(
  config: Uint8Array,
  manifest: ManifestJson,
  want: { kind: SharedKind; version: number; parts: KeyParts },
  where: string,
): { record: EntryRecord; blobs: CacheBlob[] } {
  let r: EntryRecord;
  try {
    r = JSON.parse(Buffer.from(config).toString('utf8')) as EntryRecord;
  } catch {
    throw invalid(where, 'has a record that is not JSON');
  }
  if (typeof r !== 'object' || r === null || r.kind !== want.kind || r.version !== want.version) {
    throw invalid(where, `holds a record of another kind or version`);
  }
  if (!same(r.parts, JSON.parse(JSON.stringify(want.parts))))
    throw invalid(where, 'holds a record of another key');
  if (typeof r.at !== 'number' || !Number.isFinite(r.at)) throw invalid(where, 'has no time');
  const blobs = blobsOf(want.kind, r.value);
  const listed = (d: Descriptor) => [d.digest, d.size];
  if (
    !same(
      manifest.layers.map(listed),
      blobs.map((b) => listed(b.descriptor)),
    )
  ) {
    throw invalid(where, 'lists other blobs than its record names');
  }
  return { record: r, blobs };
}
