import { DistillError } from '../errors.js';
import { isDigest } from './digest.js';
import { checkJsonSize, type JsonKind } from './limits.js';
import { isImageManifest, isIndex } from './mediatypes.js';
import type { Descriptor, ImageConfigJson, IndexJson, ManifestJson } from './types.js';

/** Validation of manifest, index and config documents; errors name the field that is wrong. */

function fail(what: string, field: string, problem: string): never {
  throw new DistillError('MANIFEST_INVALID', `${what}: field "${field}" ${problem}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validateDescriptor(v: unknown, what: string, field: string): Descriptor {
  if (!isObject(v)) fail(what, field, 'must be an object');
  if (typeof v.mediaType !== 'string' || v.mediaType === '')
    fail(what, `${field}.mediaType`, 'must be a string');
  if (typeof v.digest !== 'string' || !isDigest(v.digest)) {
    fail(what, `${field}.digest`, `is not a valid digest (${JSON.stringify(v.digest)})`);
  }
  if (typeof v.size !== 'number' || !Number.isSafeInteger(v.size) || v.size < 0) {
    fail(what, `${field}.size`, `must be a non-negative integer (${JSON.stringify(v.size)})`);
  }
  if (v.annotations !== undefined) {
    if (!isObject(v.annotations) || Object.values(v.annotations).some((x) => typeof x !== 'string')) {
      fail(what, `${field}.annotations`, 'must map strings to strings');
    }
  }
  if (v.platform !== undefined) {
    const p = v.platform;
    if (!isObject(p) || typeof p.os !== 'string' || typeof p.architecture !== 'string') {
      fail(what, `${field}.platform`, 'must have string "os" and "architecture"');
    }
  }
  return v as unknown as Descriptor;
}

/**
 * Parses a JSON document of a kind whose size cap (limits.ts) it must respect: readers check the
 * cap before they read, this is the last line for bytes that came from anywhere else.
 */
export function parseJsonDocument(bytes: Uint8Array, what: string, kind: JsonKind): unknown {
  checkJsonSize(kind, bytes.length, what);
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new DistillError('MANIFEST_INVALID', `${what} is not valid JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function validateManifest(v: unknown, what = 'image manifest'): ManifestJson {
  if (!isObject(v)) fail(what, '(root)', 'must be a JSON object');
  if (v.schemaVersion !== 2)
    fail(what, 'schemaVersion', `must be 2 (got ${JSON.stringify(v.schemaVersion)})`);
  if (v.mediaType !== undefined && !isImageManifest(v.mediaType as string)) {
    fail(what, 'mediaType', `is ${JSON.stringify(v.mediaType)}, not an image manifest type`);
  }
  validateDescriptor(v.config, what, 'config');
  if (!Array.isArray(v.layers)) fail(what, 'layers', 'must be an array');
  for (const [i, l] of v.layers.entries()) validateDescriptor(l, what, `layers[${i}]`);
  if (v.subject !== undefined) validateDescriptor(v.subject, what, 'subject');
  return v as unknown as ManifestJson;
}

export function validateIndex(v: unknown, what = 'image index'): IndexJson {
  if (!isObject(v)) fail(what, '(root)', 'must be a JSON object');
  if (v.schemaVersion !== 2)
    fail(what, 'schemaVersion', `must be 2 (got ${JSON.stringify(v.schemaVersion)})`);
  if (v.mediaType !== undefined && !isIndex(v.mediaType as string)) {
    fail(what, 'mediaType', `is ${JSON.stringify(v.mediaType)}, not an index type`);
  }
  if (!Array.isArray(v.manifests)) fail(what, 'manifests', 'must be an array');
  for (const [i, m] of v.manifests.entries()) validateDescriptor(m, what, `manifests[${i}]`);
  return v as unknown as IndexJson;
}

export function validateConfig(v: unknown, layerCount: number, what = 'image config'): ImageConfigJson {
  const bad = (field: string, problem: string): never => {
    throw new DistillError('CONFIG_INVALID', `${what}: field "${field}" ${problem}`);
  };
  if (!isObject(v)) bad('(root)', 'must be a JSON object');
  const c = v as Record<string, unknown>;
  if (typeof c.architecture !== 'string') bad('architecture', 'must be a string');
  if (typeof c.os !== 'string') bad('os', 'must be a string');
  const rootfs = c.rootfs;
  if (!isObject(rootfs) || rootfs.type !== 'layers' || !Array.isArray(rootfs.diff_ids)) {
    bad('rootfs', 'must be {"type": "layers", "diff_ids": [...]}');
  }
  const diffIds = (rootfs as { diff_ids: unknown[] }).diff_ids;
  diffIds.forEach((d, i) => {
    if (typeof d !== 'string' || !isDigest(d)) bad(`rootfs.diff_ids[${i}]`, 'is not a valid digest');
  });
  if (diffIds.length !== layerCount) {
    bad('rootfs.diff_ids', `has ${diffIds.length} entries but the manifest lists ${layerCount} layers`);
  }
  if (c.config !== undefined && c.config !== null && !isObject(c.config)) bad('config', 'must be an object');
  return v as unknown as ImageConfigJson;
}

/** Which kind of document the bytes hold, from the mediaType field or the shape. */
export function sniffManifestKind(v: unknown): 'image' | 'index' | undefined {
  if (!isObject(v)) return undefined;
  if (typeof v.mediaType === 'string') {
    if (isImageManifest(v.mediaType)) return 'image';
    if (isIndex(v.mediaType)) return 'index';
  }
  if (Array.isArray(v.manifests)) return 'index';
  if (isObject(v.config) && Array.isArray(v.layers)) return 'image';
  return undefined;
}
