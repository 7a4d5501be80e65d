import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { type Digest, digestOf } from '../../src/oci/digest.js';
import { assembleImage, type Image, rawJsonFromValue } from '../../src/oci/image.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import type { ImageConfigJson, ManifestJson } from '../../src/oci/types.js';

/** An uncompressed tar holding one file, made in memory. */
export async function tarWithFile(name: string, content: Uint8Array): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  p.entry({ name, mode: 0o644, mtime: new Date(0) }, Buffer.from(content));
  p.finalize();
  await ended;
  return Buffer.concat(chunks);
}

/** Deterministic pseudo-random bytes (xorshift), so tests need no fixtures. */
export function pseudoRandomBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed | 1;
  for (let i = 0; i < size; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, Math.min(i, size - 4 < 0 ? 0 : i));
  }
  return out;
}

/** An image held in memory: each layer an uncompressed tar with one file. */
export async function memoryImage(
  opts: { layers?: number; layerSize?: number; seed?: number; architecture?: string } = {},
): Promise<Image> {
  const n = opts.layers ?? 2;
  const blobs: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    blobs.push(
      await tarWithFile(
        `file${i}.bin`,
        pseudoRandomBytes(opts.layerSize ?? 1000, (opts.seed ?? 1) * 100 + i),
      ),
    );
  }
  const diffIds = blobs.map((b) => digestOf(b));
  const config: ImageConfigJson = {
    architecture: opts.architecture ?? 'amd64',
    os: 'linux',
    config: { Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: diffIds },
  };
  const configRaw = rawJsonFromValue(config, MediaType.OciConfig);
  const manifest: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: configRaw.digest, size: configRaw.bytes.length },
    layers: blobs.map((b) => ({ mediaType: MediaType.OciLayer, digest: digestOf(b), size: b.length })),
  };
  const byDigest = new Map<Digest, Buffer>(blobs.map((b) => [digestOf(b), b]));
  return assembleImage(rawJsonFromValue(manifest, MediaType.OciManifest), configRaw, async (d) =>
    Readable.from([byDigest.get(d.digest)!]),
  );
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
