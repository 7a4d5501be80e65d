import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { encodeFiles, type FileSpec, filesTar } from './files.js';
import { mutated } from './mutate.js';
import { ociJsonArb } from './oci-json.js';
import { plainTarArb } from './tar.js';

/**
 * Whole images as a medium holds them: an OCI layout (oci-layout, index.json, blobs) and a
 * docker-archive (manifest.json, config, layer tars, often the OCI layout beside them), right by
 * construction (digests, sizes, diff_ids), then broken the ways media break: a digest or size off,
 * a file missing, swapped or replaced by another document, a blob that is a directory or a link.
 */

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const json = (v: unknown) => Buffer.from(JSON.stringify(v));

interface Built {
  files: FileSpec[];
  /** The JSON documents' paths (for replacements). */
  docs: string[];
}

const REF = 'org.opencontainers.image.ref.name';

function buildImage(layers: { tar: Buffer; gzip: boolean }[], docker: boolean, tag: string): Built {
  const blobs = layers.map((l) => (l.gzip ? gzipSync(l.tar) : l.tar));
  const config = json({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => `sha256:${sha(l.tar)}`) },
    config: { Cmd: ['/bin/sh'] },
  });
  const manifest = json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: `sha256:${sha(config)}`,
      size: config.length,
    },
    layers: blobs.map((b, i) => ({
      mediaType: `application/vnd.oci.image.layer.v1.tar${layers[i]!.gzip ? '+gzip' : ''}`,
      digest: `sha256:${sha(b)}`,
      size: b.length,
    })),
  });
  const index = json({
    schemaVersion: 2,
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: `sha256:${sha(manifest)}`,
        size: manifest.length,
        annotations: { [REF]: tag },
      },
    ],
  });
  const file = (path: string, data: Uint8Array): FileSpec => ({ type: 'file', path, data });
  const files = [
    file('oci-layout', json({ imageLayoutVersion: '1.0.0' })),
    file('index.json', index),
    file(`blobs/sha256/${sha(manifest)}`, manifest),
    file(`blobs/sha256/${sha(config)}`, config),
    ...blobs.map((b) => file(`blobs/sha256/${sha(b)}`, b)),
  ];
  const docs = ['index.json', `blobs/sha256/${sha(manifest)}`, `blobs/sha256/${sha(config)}`];
  if (docker) {
    const entry = {
      Config: `blobs/sha256/${sha(config)}`,
      RepoTags: [`img:${tag}`],
      Layers: blobs.map((b) => `blobs/sha256/${sha(b)}`),
    };
    files.unshift(file('manifest.json', json([entry])));
    docs.push('manifest.json');
  }
  return { files, docs };
}

type Breakage =
  | { kind: 'digest' | 'size' | 'drop' | 'dir' | 'truncate'; at: number }
  | { kind: 'replace'; at: number; doc: Uint8Array }
  | { kind: 'link'; at: number; target: string }
  | { kind: 'swap'; a: number; b: number };

const breakageArb: fc.Arbitrary<Breakage> = fc.oneof(
  fc.record({
    kind: fc.constantFrom(
      'digest' as const,
      'size' as const,
      'drop' as const,
      'dir' as const,
      'truncate' as const,
    ),
    at: fc.nat(),
  }),
  fc.record({
    kind: fc.constant('replace' as const),
    at: fc.nat(),
    doc: ociJsonArb.map((b) => b.subarray(1)),
  }),
  fc.record({
    kind: fc.constant('link' as const),
    at: fc.nat(),
    target: fc.constantFrom(
      '/dev/zero',
      '/proc/self/status',
      '../../../../etc/passwd',
      'index.json',
      '.',
      'loop',
      'oci-layout',
    ),
  }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(), b: fc.nat() }),
);

/** Changes one hex digit of the first digest in a JSON document, or its first size. */
function perturb(doc: Uint8Array, kind: 'digest' | 'size'): Uint8Array {
  const text = Buffer.from(doc).toString('utf8');
  if (kind === 'digest')
    return Buffer.from(text.replace(/(sha256:)([0-9a-f])/, (_, p, h) => `${p}${h === '0' ? '1' : '0'}`));
  return Buffer.from(text.replace(/"size":(\d+)/, (_, n) => `"size":${Number(n) + 1}`));
}

function applyBreakage(built: Built, br: Breakage): void {
  const { files, docs } = built;
  if (files.length === 0) return;
  const pick = (n: number) => files[n % files.length]!;
  switch (br.kind) {
    case 'digest':
    case 'size': {
      const path = docs[br.at % docs.length]!;
      const f = files.find((x) => x.path === path);
      if (f) f.data = perturb(f.data, br.kind);
      return;
    }
    case 'drop':
      files.splice(br.at % files.length, 1);
      return;
    case 'dir':
      Object.assign(pick(br.at), { type: 'dir', data: new Uint8Array() });
      return;
    case 'truncate': {
      const f = pick(br.at);
      f.data = f.data.subarray(0, f.data.length >> 1);
      return;
    }
    case 'replace': {
      const path = docs[br.at % docs.length]!;
      const f = files.find((x) => x.path === path);
      if (f) f.data = br.doc;
      return;
    }
    case 'link':
      Object.assign(pick(br.at), { type: 'symlink', data: Buffer.from(br.target) });
      return;
    case 'swap': {
      const a = pick(br.a);
      const b = pick(br.b);
      [a.data, b.data] = [b.data, a.data];
      return;
    }
  }
}

const imageArb = (docker: boolean) =>
  fc
    .record({
      layers: fc.array(fc.record({ tar: plainTarArb, gzip: fc.boolean() }), { maxLength: 3 }),
      tag: fc.constantFrom('latest', 'v1'),
      breakages: fc.oneof(fc.constant([]), fc.array(breakageArb, { minLength: 1, maxLength: 3 })),
    })
    .map(({ layers, tag, breakages }) => {
      const built = buildImage(layers, docker, tag);
      for (const br of breakages) applyBreakage(built, br);
      return built.files;
    });

/** An OCI layout as encoded files (files.ts), for `oci:` (a directory). */
export const layoutArb: fc.Arbitrary<Uint8Array> = imageArb(false).map(encodeFiles);

/** An `oci-archive:` file: the layout as a tar, then byte damage. */
export const ociArchiveArb: fc.Arbitrary<Uint8Array> = mutated(imageArb(false), filesTar, 2);

/** A `docker-archive:` file: manifest.json, config, layers (and the OCI layout), then byte damage. */
export const dockerArchiveArb: fc.Arbitrary<Uint8Array> = mutated(imageArb(true), filesTar, 2);
