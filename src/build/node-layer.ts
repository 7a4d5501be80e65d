import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DistillError, wrapError } from '../errors.js';
import { compressionKey, DEFAULT_LAYER_COMPRESSION, type LayerCompression } from '../layers/compression.js';
import type { Digest } from '../oci/digest.js';
import type { Layer } from '../oci/image.js';
import { layerMediaType } from '../oci/mediatypes.js';
import type { Descriptor } from '../oci/types.js';
import { type NodeBlob, nodeLayerEntries } from '../plan/layout.js';
import type { NodeArch, NodeRelease, NodeRuntime } from '../sources/node/index.js';
import { type KeyParts, RECORD_KINDS } from '../store/records.js';
import type { Store } from '../store/store.js';
import type { ElfSource } from './app/elf.js';
import { planStrip, stripStream } from './app/elf-strip.js';
import { cachedLayer, layerKey, layerRecordKey, storedLayer } from './layercache.js';

/**
 * The Node layer of `distill build` and `distill base`: the release's `bin/node`, stripped of its
 * debug sections and static symbol table unless the plan says not to (`--no-strip`), and its
 * LICENSE. The stripped binary is a blob of the store, remembered by the digest of the release's
 * own `bin/node` (itself extracted from the archive the registry's integrity verified), so the
 * strip runs once per release and machine; the layer is then cached by its entries as before.
 *
 * Finding that layer by its entries needs the stripped binary's digest, so the release and the
 * strip. The `node-layer` record (decision 0029) names the layer, and what a build reads of the
 * release (its ABI), by what determines them: the release archive's verified integrity, strip
 * on or off, SOURCE_DATE_EPOCH, the compression and the layer's layout. It is a shared kind: a
 * runner with an empty store and a remote cache hit fetches no release and strips nothing.
 */

/** The stripped binary of a release's bin/node, and how many bytes the strip removed. */
export interface StrippedNode {
  digest: NodeBlob['digest'];
  size: number;
  removed: number;
}

declare module '../store/records.js' {
  interface RecordValues {
    'node-stripped': StrippedNode;
  }
}

/** Random reads of a store blob's file, for the strip's plan (the copy itself is verified). */
async function blobSource(store: Store, blob: NodeBlob): Promise<{ src: ElfSource; close(): Promise<void> }> {
  const fh = await open(await store.file(blob.digest), 'r').catch((err: unknown) => {
    throw new DistillError('BLOB_MISSING', `blob ${blob.digest} is not in the cache at ${store.root}`, {
      cause: err,
    });
  });
  const src: ElfSource = {
    size: blob.size,
    read: async (offset, length) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await fh.read(buf, 0, length, offset);
      return buf.subarray(0, bytesRead);
    },
  };
  return { src, close: () => fh.close() };
}

/**
 * The release's bin/node stripped (elf-strip.ts), from the store when this binary was stripped
 * before. The copy is made from the blob's verifying stream: a blob changed in the store fails
 * the strip rather than being stripped.
 */
export async function strippedNode(store: Store, binary: NodeBlob, what: string): Promise<StrippedNode> {
  const records = store.record('node-stripped');
  const key = { binary: binary.digest };
  const hit = await records.get(key, { usable: async (r) => (await store.size(r.digest)) === r.size });
  if (hit) return hit;
  const { src, close } = await blobSource(store, binary);
  try {
    const plan = await planStrip(src, what);
    const input = await store.open(binary.digest, binary.size);
    const put = await store.put(Readable.from(stripStream(plan, input)), undefined, {
      what: `${what}, stripped`,
    });
    const value: StrippedNode = { ...put, removed: binary.size - put.size };
    await records.put(key, value);
    return value;
  } catch (err) {
    throw err instanceof DistillError ? err : wrapError(err, `stripping ${what}`);
  } finally {
    await close();
  }
}

/**
 * The Node layer: /nodejs/bin/node (stripped unless `strip` is false) and /nodejs/LICENSE;
 * `opts.release` names the release in messages (`Node 24.11.1 for linux/x64`).
 */
export async function nodeLayer(
  store: Store,
  release: { binary: NodeBlob; license: NodeBlob },
  opts: { strip: boolean; sourceDateEpoch: number; release: string; compression?: LayerCompression },
): Promise<Layer> {
  const binary = opts.strip
    ? await strippedNode(store, release.binary, `bin/node of ${opts.release}`)
    : release.binary;
  return nodeLayerOf(store, { binary, license: release.license }, opts);
}

/** The layer of these files (the binary stripped already, or not to be), cached by its entries. */
function nodeLayerOf(
  store: Store,
  files: { binary: NodeBlob; license: NodeBlob },
  opts: { sourceDateEpoch: number; compression?: LayerCompression },
): Promise<Layer> {
  return cachedLayer(
    store,
    nodeLayerEntries(files, (b) => store.open(b.digest, b.size)),
    { sourceDateEpoch: opts.sourceDateEpoch, ...(opts.compression && { compression: opts.compression }) },
  );
}

/** What a `node-layer` record keeps: the layer, the files in it, and the release's ABI. */
export interface NodeLayerRecord {
  layer: { descriptor: Descriptor; diffId: Digest };
  /** The layer's /nodejs/bin/node (stripped unless the key says not) and LICENSE. */
  binary: NodeBlob;
  license: NodeBlob;
  /** NODE_MODULE_VERSION of the release, which the node_modules layer is keyed by. */
  abi: string;
}

declare module '../store/records.js' {
  interface RecordValues {
    'node-layer': NodeLayerRecord;
  }
}

export interface NodeLayerOptions {
  strip: boolean;
  sourceDateEpoch: number;
  compression?: LayerCompression;
}

/** The Node layer of a release and what the build reads of the release besides. */
export interface NodeImageLayer {
  layer: Layer;
  abi: string;
}

/** What the Node layer is made from: the release as recorded (no network), else fetched. */
export interface NodeLayerSources {
  nodeRelease(version: string, arch: NodeArch): Promise<NodeRelease | undefined>;
  nodeRuntime(version: string, arch: NodeArch): Promise<NodeRuntime>;
}

/** The layout of the layer (paths, modes, owners): its entries with the files' contents left out. */
let layoutDigest: Digest | undefined;
function layout(): Digest {
  const none: NodeBlob = { digest: `sha256:${'0'.repeat(64)}`, size: 0 };
  layoutDigest ??= layerKey(
    nodeLayerEntries({ binary: none, license: none }, () => Promise.reject(new Error('not read'))),
    '',
  ).entries;
  return layoutDigest;
}

/**
 * The key of a `node-layer` record: everything the layer is a function of. The release archive's
 * integrity names its bytes (checked against the npm registry's SRI or the mirror's SHASUMS as it
 * was downloaded); the strip is keyed by the version of the `node-stripped` record, which changes
 * when the strip's output does.
 */
export function nodeLayerKey(release: { integrity: string }, opts: NodeLayerOptions): KeyParts {
  const c = opts.compression ?? DEFAULT_LAYER_COMPRESSION;
  return {
    release: release.integrity,
    strip: opts.strip ? `v${RECORD_KINDS['node-stripped'].version}` : false,
    sourceDateEpoch: opts.sourceDateEpoch,
    layers: compressionKey(c),
    layout: layout(),
  };
}

/**
 * Whether a record can be used: its layer is in the store (a remote hit brought it in verified by
 * digest and diff_id), of the compression asked for, and, when the store has built or fetched this
 * layer by its entries, the `layer` record of those entries names the same blob and diff_id.
 */
async function usable(store: Store, v: NodeLayerRecord, opts: NodeLayerOptions): Promise<boolean> {
  const d = v.layer.descriptor;
  const c = opts.compression ?? DEFAULT_LAYER_COMPRESSION;
  if (d.mediaType !== layerMediaType(c.kind) || (await store.size(d.digest)) !== d.size) return false;
  const entries = nodeLayerEntries(v, () => Promise.reject(new Error('not read')));
  const known = await store.record('layer').get(layerRecordKey(entries, opts), { local: true });
  return known === undefined || (known.descriptor.digest === d.digest && known.diffId === v.layer.diffId);
}

/**
 * The Node layer of `version` for linux/`arch`: from a `node-layer` record when one is there
 * (locally or in a remote cache) and usable, reading no release; else made from the release
 * (fetched, verified, stripped) and recorded.
 */
export async function nodeImageLayer(
  store: Store,
  sources: NodeLayerSources,
  version: string,
  arch: NodeArch,
  opts: NodeLayerOptions,
): Promise<NodeImageLayer> {
  const records = store.record('node-layer');
  const release = await sources.nodeRelease(version, arch);
  if (release !== undefined) {
    const hit = await records.get(nodeLayerKey(release, opts), { usable: (v) => usable(store, v, opts) });
    if (hit !== undefined) return { layer: storedLayer(store, hit.layer), abi: hit.abi };
  }
  const rt = await sources.nodeRuntime(version, arch);
  const binary = opts.strip
    ? await strippedNode(store, rt.binary, `bin/node of ${what(version, arch)}`)
    : rt.binary;
  const layer = await nodeLayerOf(store, { binary, license: rt.license }, opts);
  await records.put(nodeLayerKey(rt.tarball, opts), {
    layer: { descriptor: layer.descriptor, diffId: layer.diffId },
    binary: { digest: binary.digest, size: binary.size },
    license: rt.license,
    abi: rt.abi,
  });
  return { layer, abi: rt.abi };
}

const what = (version: string, arch: NodeArch) => `Node ${version} for linux/${arch}`;
