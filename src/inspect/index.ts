/**
 * distill's image inspection library: any image read as the merged filesystem a container would
 * see, streaming each layer once and keeping only metadata in memory, and the facts drawn from it.
 *
 *   inspectImage(image, opts)          facts of an Image (any medium, see media/)
 *   inspectImageTree(image, opts)      the same with the merged tree, for a listing beside them
 *   inspectArtifact(artifact, opts)    same, picking opts.platform (default: the host's) from an index
 *   inspectReference(ref, opts)        opens any reference (oci:, oci-archive:, docker-archive:,
 *                                      docker-daemon:, registry) and inspects it
 *   inspectRootfs(path, opts)          facts of a root filesystem: a directory or a tarball
 *   mergedTree(image, opts)            the merged tree alone (for file listings), no content read
 *   rootfsTree(path, opts)             the same for a root filesystem
 *   resolvePath(tree, path)            symlinks resolved inside the image, 40 hops at most
 *   withSecurity(facts, source)        opt-in, over the network: deb packages Debian's security
 *                                      archive has newer (security.ts; securitySource(opts))
 *   FACTS_SCHEMA_VERSION, FACTS_JSON_SCHEMA   the facts' versioned JSON schema (and those of
 *                                      compare and --files: COMPARE_JSON_SCHEMA, FILES_JSON_SCHEMA)
 *
 * Reports (render.ts: text, Markdown, self-contained HTML), the rows of a comparison (rows.ts)
 * and the --deny rules for CI (deny.ts) sit beside, built on Facts alone.
 *
 * Hostile input: an entry whose `..` escapes the root, a hardlink to nowhere, a symlink loop or a
 * corrupt os-release or package database never stops an inspection: it is skipped or reported as
 * unknown, with a line in `warnings`. What would exhaust the machine stops it with INSPECT_UNSAFE:
 * a layer inflating past max(inflateRatio x its compressed size, inflateFloor) bytes, or a tree
 * past maxEntries entries. Memory holds one small record per path (about 48 bytes with its share
 * of names and index, see tree.ts; 48 MB at the default cap of 1,000,000 paths), plus capped reads
 * of the few files facts need.
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DistillError, isDistillError, wrapError } from '../errors.js';
import { selectPlatform } from '../media/copy.js';
import { type MediaOptions, openArtifact } from '../media/index.js';
import type { Artifact, Image } from '../oci/image.js';
import { formatPlatform, hostPlatform } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import type { ImageRef } from '../ref/transport.js';
import { DEFAULT_FACT_LIMITS, type FactLimits, type Facts, factCollector } from './facts.js';
import {
  type ByteCount,
  DEFAULT_INFLATE_LIMITS,
  directoryEntries,
  type InflateLimits,
  layerEntries,
} from './input.js';
import { DEFAULT_MAX_ENTRIES, type MergeOptions, Merger, type Tree } from './tree.js';

export type {
  Executable,
  Facts,
  LayerFact,
  LotlFinding,
  Package,
  PackageDatabase,
  SecretFinding,
  SecurityStatus,
  SecurityUpdate,
} from './facts.js';
export { FACTS_SCHEMA_VERSION, parseOsRelease } from './facts.js';
export { LOTL_TOOLS, type LotlTool } from './lotl.js';
export { COMPARE_JSON_SCHEMA, FACTS_JSON_SCHEMA, FILES_JSON_SCHEMA } from './schema.js';
export type { SecretKind } from './secrets.js';
export {
  checkSecurity,
  type SecurityCheck,
  type SecurityIndex,
  type SecurityOptions,
  securitySource,
  withSecurity,
} from './security.js';
export {
  type FileRow,
  type LayerStats,
  MAX_SYMLINK_HOPS,
  type Resolution,
  resolvePath,
  Tree,
  type TreeNode,
} from './tree.js';

export interface InspectOptions extends Partial<InflateLimits>, Partial<FactLimits> {
  /** Most paths the merged tree may hold (default 1,000,000); beyond, INSPECT_UNSAFE. */
  maxEntries?: number;
  /**
   * Called with the size of every chunk of tar a layer's decompressor hands out (256 KiB for
   * gzip), each a new buffer: the CLI has the ones already read collected (src/cli/heap.ts).
   */
  onLayerChunk?: (bytes: number) => void;
}

function inflateLimits(opts: InspectOptions): InflateLimits {
  return {
    inflateRatio: opts.inflateRatio ?? DEFAULT_INFLATE_LIMITS.inflateRatio,
    inflateFloor: opts.inflateFloor ?? DEFAULT_INFLATE_LIMITS.inflateFloor,
  };
}

function factLimits(opts: InspectOptions): FactLimits {
  return {
    maxDatabaseBytes: opts.maxDatabaseBytes ?? DEFAULT_FACT_LIMITS.maxDatabaseBytes,
    maxPackages: opts.maxPackages ?? DEFAULT_FACT_LIMITS.maxPackages,
    maxPackageJsonBytes: opts.maxPackageJsonBytes ?? DEFAULT_FACT_LIMITS.maxPackageJsonBytes,
    maxPackageJsonFiles: opts.maxPackageJsonFiles ?? DEFAULT_FACT_LIMITS.maxPackageJsonFiles,
  };
}

async function mergeImage(image: Image, opts: InspectOptions, merge: MergeOptions): Promise<Tree> {
  const m = new Merger({ ...merge, maxEntries: opts.maxEntries ?? DEFAULT_MAX_ENTRIES });
  const limits = inflateLimits(opts);
  for (const [i, layer] of image.layers.entries()) {
    const label = `layer ${i} (${layer.descriptor.digest})`;
    const count: ByteCount = { bytes: 0, onChunk: opts.onLayerChunk };
    let entries: number;
    try {
      const blob = await layer.open();
      // The layer is inflated and read whole anyway: its diff_id is checked on the way (unless
      // distill computed it from these bytes itself).
      const diffId = layer.diffIdChecked === true ? undefined : layer.diffId;
      entries = await m.applyLayer(
        label,
        layerEntries(blob, layer.descriptor.size, label, limits, count, diffId),
      );
    } catch (err) {
      throw isDistillError(err, 'INSPECT_UNSAFE') ? err : wrapError(err, `reading ${label}`);
    }
    m.tree.layers.push({ compressed: layer.descriptor.size, uncompressed: count.bytes, entries });
  }
  return m.finish();
}

async function mergeRootfs(path: string, opts: InspectOptions, merge: MergeOptions): Promise<Tree> {
  const m = new Merger({ ...merge, maxEntries: opts.maxEntries ?? DEFAULT_MAX_ENTRIES });
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    throw wrapError(err, `reading the root filesystem ${path}`);
  }
  const count: ByteCount = { bytes: 0, onChunk: opts.onLayerChunk };
  const label = `root filesystem ${path}`;
  let entries: number;
  if (st.isDirectory()) {
    entries = await m.applyLayer(
      label,
      directoryEntries(path, count, (w) => m.warn(w)),
    );
    m.tree.layers.push({ compressed: count.bytes, uncompressed: count.bytes, entries });
  } else if (st.isFile()) {
    try {
      entries = await m.applyLayer(
        label,
        layerEntries(createReadStream(path), st.size, label, inflateLimits(opts), count),
      );
    } catch (err) {
      throw isDistillError(err, 'INSPECT_UNSAFE') ? err : wrapError(err, `reading ${label}`);
    }
    m.tree.layers.push({ compressed: st.size, uncompressed: count.bytes, entries });
  } else {
    throw new DistillError(
      'USAGE',
      `${path} is neither a directory nor a tarball; give a root filesystem as one of them`,
    );
  }
  return m.finish();
}

/** The merged filesystem of an image (metadata only: no file content is read). */
export function mergedTree(image: Image, opts: InspectOptions = {}): Promise<Tree> {
  return mergeImage(image, opts, {});
}

/** The tree of a root filesystem given as a directory (walked with lstat) or a tarball. */
export function rootfsTree(path: string, opts: InspectOptions = {}): Promise<Tree> {
  return mergeRootfs(path, opts, {});
}

/** Facts of an image, its layers streamed once. */
export async function inspectImage(image: Image, opts: InspectOptions = {}): Promise<Facts> {
  return (await inspectImageTree(image, opts)).facts;
}

/** Facts of an image and its merged tree (for a listing too), its layers streamed once. */
export async function inspectImageTree(
  image: Image,
  opts: InspectOptions = {},
): Promise<{ facts: Facts; tree: Tree }> {
  const collector = factCollector(factLimits(opts));
  const tree = await mergeImage(image, opts, collector.merge);
  const config = image.config.value;
  const facts = collector.facts(tree, {
    source: {
      kind: 'image',
      manifestDigest: image.manifest.digest,
      configDigest: image.config.digest,
      platform: formatPlatform({
        os: config.os,
        architecture: config.architecture,
        ...(config.variant && { variant: config.variant }),
      }),
    },
    config,
    layers: image.layers.map((l) => ({
      digest: l.descriptor.digest,
      diffId: l.diffId ?? null,
      mediaType: l.descriptor.mediaType,
    })),
  });
  return { facts, tree };
}

/** Facts of an image, or of the image of an index for `opts.platform` (default: the host's). */
export async function inspectArtifact(
  artifact: Artifact,
  opts: InspectOptions & { platform?: Platform } = {},
): Promise<Facts> {
  const image =
    artifact.kind === 'image' && opts.platform === undefined
      ? artifact
      : await selectPlatform(artifact, opts.platform ?? hostPlatform());
  if (image.kind !== 'image')
    throw new DistillError('INTERNAL', 'selecting a platform gave an index', { userError: false });
  return inspectImage(image, opts);
}

/** Opens a reference in any medium and inspects it. */
export async function inspectReference(
  ref: ImageRef,
  opts: InspectOptions & { platform?: Platform; media?: MediaOptions } = {},
): Promise<Facts> {
  return inspectArtifact(await openArtifact(ref, opts.media), opts);
}

/** Facts of a root filesystem given as a directory or a tarball (gzip, zstd or plain). */
export async function inspectRootfs(path: string, opts: InspectOptions = {}): Promise<Facts> {
  const collector = factCollector(factLimits(opts));
  const tree = await mergeRootfs(path, opts, collector.merge);
  return collector.facts(tree, {
    source: { kind: 'rootfs', manifestDigest: null, configDigest: null, platform: null },
    layers: [{ digest: null, diffId: null, mediaType: null }],
  });
}
