import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { type Digest, Digester, digestOf } from '../../src/oci/digest.js';
import {
  assembleImage,
  descriptorOf,
  type Image,
  type ImageIndex,
  type Layer,
  rawJsonFromValue,
} from '../../src/oci/image.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import type { Descriptor, ImageConfigJson, IndexJson, ManifestJson } from '../../src/oci/types.js';

/**
 * In-memory test images for registry tests: layers are uncompressed-tar-typed blobs of random
 * or pseudo-random bytes (the registry never looks inside), so diff_id equals the digest.
 */
export interface TestLayer extends Layer {
  /** How many times open() was called. */
  readonly opens: () => number;
}

export function bytesLayer(bytes: Uint8Array): TestLayer {
  const digest = digestOf(bytes);
  let opens = 0;
  return {
    descriptor: { mediaType: MediaType.OciLayer, digest, size: bytes.length },
    diffId: digest,
    open: async () => {
      opens++;
      return Readable.from([Buffer.from(bytes)]);
    },
    opens: () => opens,
  };
}

export function randomLayer(size: number): TestLayer {
  return bytesLayer(randomBytes(size));
}

/** A deterministic byte stream (xorshift32) of `size` bytes, generated in 64 KiB pieces. */
export function prngStream(size: number, seed: number): Readable {
  let state = seed >>> 0 || 1;
  let left = size;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, 64 * 1024);
      const buf = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i += 4) {
        state ^= state << 13;
        state ^= state >>> 17;
        state ^= state << 5;
        state >>>= 0;
        const word = state;
        for (let j = 0; j < 4 && i + j < n; j++) buf[i + j] = (word >>> (8 * j)) & 0xff;
      }
      left -= n;
      this.push(buf);
    },
  });
}

/** A big layer whose bytes are never all in memory: its digest comes from one streaming pass. */
export async function prngLayer(size: number, seed: number): Promise<TestLayer> {
  const d = new Digester();
  for await (const chunk of prngStream(size, seed)) d.update(chunk as Buffer);
  const digest = d.digest();
  let opens = 0;
  return {
    descriptor: { mediaType: MediaType.OciLayer, digest, size },
    diffId: digest,
    open: async () => {
      opens++;
      return prngStream(size, seed);
    },
    opens: () => opens,
  };
}

export function makeImage(
  layers: Layer[],
  platform: { architecture: string; os: string } = { architecture: 'amd64', os: 'linux' },
): Image {
  const configValue: ImageConfigJson = {
    architecture: platform.architecture,
    os: platform.os,
    config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/true'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    // makes every image's config distinct, so tests never share a config blob by accident
    history: [{ created_by: `test ${randomBytes(8).toString('hex')}` }],
  };
  const config = rawJsonFromValue(configValue, MediaType.OciConfig);
  const manifestValue: ManifestJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: descriptorOf(config),
    layers: layers.map((l) => l.descriptor),
  };
  const manifest = rawJsonFromValue(manifestValue, MediaType.OciManifest);
  const byDigest = new Map(layers.map((l) => [l.descriptor.digest as string, l]));
  return assembleImage(manifest, config, async (d: Descriptor) => {
    const layer = byDigest.get(d.digest);
    if (!layer) throw new Error(`test image has no layer ${d.digest}`);
    return layer.open();
  });
}

export function makeIndex(images: Image[]): ImageIndex {
  const value: IndexJson = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: images.map((img) =>
      descriptorOf(img.manifest, {
        platform: { architecture: img.config.value.architecture, os: img.config.value.os },
      }),
    ),
  };
  const manifest = rawJsonFromValue(value, MediaType.OciIndex);
  const byDigest = new Map<string, Image>(images.map((i) => [i.manifest.digest, i]));
  return {
    kind: 'index',
    manifest,
    child: async (d) => {
      const img = byDigest.get(d.digest);
      if (!img) throw new Error(`test index has no child ${d.digest}`);
      return img;
    },
  };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Digest of everything a stream yields, without keeping it. */
export async function digestStream(stream: Readable): Promise<{ digest: Digest; size: number }> {
  const d = new Digester();
  for await (const c of stream) d.update(c as Buffer);
  return { digest: d.digest(), size: d.size };
}

/** The tags of a repository, asked of the registry directly (no auth). */
export async function listTags(host: string, repository: string, authorization?: string): Promise<string[]> {
  const res = await fetch(`http://${host}/v2/${repository}/tags/list`, {
    headers: authorization ? { authorization } : {},
  });
  const body = (await res.json()) as { tags?: string[] | null; errors?: { code: string }[] };
  // docker-registry 2.8 says NAME_UNKNOWN for a repository without tags
  if (res.status === 404 && body.errors?.[0]?.code === 'NAME_UNKNOWN') return [];
  assert.equal(res.status, 200);
  return body.tags ?? [];
}

/** Pulls every layer of an image and checks its bytes against the descriptor. */
export async function assertLayersPull(pulled: Image, pushed: Image): Promise<void> {
  assert.equal(pulled.layers.length, pushed.layers.length);
  for (const [i, layer] of pulled.layers.entries()) {
    const want = pushed.layers[i]!;
    assert.deepEqual(layer.descriptor, want.descriptor);
    assert.equal(layer.diffId, want.diffId);
    const got = await digestStream(await layer.open());
    assert.equal(got.digest, want.descriptor.digest);
    assert.equal(got.size, want.descriptor.size);
  }
}
