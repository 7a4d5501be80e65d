import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { DistillError, wrapError } from '../errors.js';
import type { LayerCompression } from '../layers/compression.js';
import type { Layer } from '../oci/image.js';
import { type NodeBlob, nodeLayerEntries } from '../plan/layout.js';
import type { Store } from '../store/store.js';
import type { ElfSource } from './app/elf.js';
import { planStrip, stripStream } from './app/elf-strip.js';
import { cachedLayer } from './layercache.js';

/**
 * The Node layer of `distill build` and `distill base`: the release's `bin/node`, stripped of its
 * debug sections and static symbol table unless the plan says not to (`--no-strip`), and its
 * LICENSE. The stripped binary is a blob of the store, remembered by the digest of the release's
 * own `bin/node` (itself extracted from the archive the registry's integrity verified), so the
 * strip runs once per release and machine; the layer is then cached by its entries as before.
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
  const fh = await open(store.blobPath(blob.digest), 'r').catch((err: unknown) => {
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
  return cachedLayer(
    store,
    nodeLayerEntries({ binary, license: release.license }, (b) => store.open(b.digest, b.size)),
    { sourceDateEpoch: opts.sourceDateEpoch, ...(opts.compression && { compression: opts.compression }) },
  );
}
