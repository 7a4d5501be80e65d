import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { pack } from 'tar-stream';
import { type Digest, digestOf } from '../../src/oci/digest.js';
import { assembleImage, type Image, rawJsonFromValue } from '../../src/oci/image.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import type { ContainerConfig, HistoryEntry, ImageConfigJson, ManifestJson } from '../../src/oci/types.js';

/** A tar entry as a test writes it: names verbatim (hostile ones included). */
export interface T {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  content?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
}

export const file = (name: string, content: string | Buffer = '', mode = 0o644): T => ({
  name,
  content,
  mode,
});
export const dir = (name: string, mode = 0o755): T => ({ name, type: 'directory', mode });
export const symlink = (name: string, linkname: string): T => ({ name, type: 'symlink', linkname });
export const hardlink = (name: string, linkname: string): T => ({ name, type: 'link', linkname });
/** `.wh.NAME` beside the path it hides. */
export const whiteout = (path: string): T => {
  const i = path.lastIndexOf('/');
  return file(`${path.slice(0, i + 1)}.wh.${path.slice(i + 1)}`);
};
export const opaque = (dirPath: string): T => file(`${dirPath.replace(/\/$/, '')}/.wh..wh..opq`);

/** An uncompressed tar of the entries, in the order given. */
export async function tarOf(entries: readonly T[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const ended = new Promise<void>((resolve, reject) => {
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    const header = {
      name: e.name,
      type,
      mode: e.mode ?? (type === 'directory' ? 0o755 : type === 'symlink' ? 0o777 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: new Date(0),
      ...(e.linkname !== undefined && { linkname: e.linkname }),
      ...(body && { size: body.length }),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) p.entry(header, body, done);
      else p.entry(header, done);
    });
  }
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

export interface ImageSpec {
  layers: readonly (readonly T[])[];
  config?: ContainerConfig;
  history?: HistoryEntry[];
  /** gzip the layer blobs (default true), all of them or layer by layer. */
  gzip?: boolean | readonly boolean[];
  architecture?: string;
}

/** An image held in memory, its layers made from the entries given. */
export async function imageOf(spec: ImageSpec): Promise<Image> {
  const tars = await Promise.all(spec.layers.map((l) => tarOf(l)));
  return imageOfBlobs(
    tars.map((t, i) => (gzipped(spec, i) ? gzipSync(t) : t)),
    tars.map((t) => digestOf(t)),
    spec,
  );
}

function gzipped(spec: Omit<ImageSpec, 'layers'>, i: number): boolean {
  const g = spec.gzip ?? true;
  return typeof g === 'boolean' ? g : (g[i] ?? true);
}

/** An image from prepared blobs and their diff_ids. */
export function imageOfBlobs(
  blobs: Buffer[],
  diffIds: Digest[],
  spec: Omit<ImageSpec, 'layers'> = {},
): Image {
  const config: ImageConfigJson = {
    architecture: spec.architecture ?? 'amd64',
    os: 'linux',
    config: spec.config ?? {},
    rootfs: { type: 'layers', diff_ids: diffIds },
    ...(spec.history && { history: spec.history }),
  };
  const configRaw = rawJsonFromValue(config, MediaType.OciConfig);
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configRaw.digest, size: configRaw.bytes.length },
    layers: blobs.map((b, i) => ({
      mediaType: gzipped(spec, i) ? MediaType.OciLayerGzip : MediaType.OciLayer,
      digest: digestOf(b),
      size: b.length,
    })),
  };
  const byDigest = new Map<Digest, Buffer>(blobs.map((b) => [digestOf(b), b]));
  return assembleImage(rawJsonFromValue(manifest, MediaType.OciManifest), configRaw, async (d) =>
    Readable.from([byDigest.get(d.digest)!]),
  );
}

/**
 * A small JSON Schema checker for the keywords FACTS_JSON_SCHEMA uses (type, enum, const,
 * properties, required, additionalProperties: false, items, pattern, minimum, oneOf). Returns the
 * problems found, empty when the value conforms.
 */
export function schemaProblems(schema: Record<string, unknown>, value: unknown, at = '$'): string[] {
  const out: string[] = [];
  const typeOf = (v: unknown) =>
    v === null ? 'null' : Array.isArray(v) ? 'array' : Number.isInteger(v) ? 'integer' : typeof v;
  if (schema.oneOf) {
    const ok = (schema.oneOf as Record<string, unknown>[]).filter(
      (s) => schemaProblems(s, value, at).length === 0,
    );
    if (ok.length !== 1) out.push(`${at}: matches ${ok.length} of oneOf`);
    return out;
  }
  if (schema.const !== undefined && value !== schema.const) out.push(`${at}: not ${String(schema.const)}`);
  if (schema.enum && !(schema.enum as unknown[]).includes(value))
    out.push(`${at}: ${String(value)} not in enum`);
  if (schema.type) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number'))) {
      out.push(`${at}: ${t} is not ${types.join('|')}`);
      return out;
    }
  }
  if (typeof value === 'string' && schema.pattern && !new RegExp(schema.pattern as string).test(value)) {
    out.push(`${at}: ${value} does not match ${String(schema.pattern)}`);
  }
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) {
    out.push(`${at}: ${value} < ${schema.minimum}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((v, i) => {
      out.push(...schemaProblems(schema.items as Record<string, unknown>, v, `${at}[${i}]`));
    });
  }
  if (value && typeof value === 'object' && !Array.isArray(value) && schema.properties) {
    const props = schema.properties as Record<string, Record<string, unknown>>;
    for (const r of (schema.required as string[] | undefined) ?? []) {
      if (!(r in value)) out.push(`${at}: missing ${r}`);
    }
    for (const [k, v] of Object.entries(value)) {
      const s = props[k];
      if (s) out.push(...schemaProblems(s, v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}: unexpected ${k}`);
    }
  }
  return out;
}
