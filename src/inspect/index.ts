/**
 * distill's image inspection library: any image read as the merged filesystem a container would
 * see, streaming each layer once and keeping only metadata in memory, and the facts drawn from it.
 *
 *   inspectImage(image, opts)          facts of an Image (any medium, see media/)
 *   inspectImageTree(image, opts)      the same with the merged tree, for a listing beside them
 *   inspectArtifact(artifact, opts)    same, picking opts.platform (default: the host's) from an index
 *   imageForPlatform(artifact, p)      that choice alone (inspect --files makes it too)
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
 * Reports (render.ts: text, Markdown, self-contained HTML), the rows of a comparison (rows.ts), the
 * package difference of a comparison (package-diff.ts), the --deny rules for CI (deny.ts) and the
 * secret scanner's rules (secret-rules.ts, also for the build) sit beside, built on Facts alone.
 *
 * Hostile input: an entry whose `..` escapes the root, a hardlink to nowhere, a symlink loop or a
 * corrupt os-release or package database never stops an inspection: it is skipped or reported as
 * unknown, with a line in `warnings`. What would exhaust the machine stops it with INSPECT_UNSAFE:
 * a layer inflating past max(inflateRatio x its compressed size, inflateFloor) bytes, or a tree
 * past maxEntries entries. Memory holds one small record per path (about 48 bytes with its share
 * of names and index, see nodes.ts; 48 MB at the default cap of 1,000,000 paths), plus capped reads
 * of the few files facts need.
 */

import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { DistillError, isDistillError, wrapError } from '../errors.js';
import { hostPlatform } from '../host.js';
import { selectPlatform } from '../media/copy.js';
import { type MediaOptions, openArtifact } from '../media/index.js';
import type { Artifact, Image } from '../oci/image.js';
import { layerCompression } from '../oci/mediatypes.js';
import { formatPlatform } from '../oci/platform.js';
import type { Platform } from '../oci/types.js';
import { verifiesDescriptor } from '../oci/verify.js';
import type { ImageRef } from '../ref/transport.js';
import { DEFAULT_FACT_LIMITS, type FactLimits, type Facts, factCollector } from './facts.js';
import {
  type ByteCount,
  DEFAULT_INFLATE_LIMITS,
  directoryEntries,
  type InflateLimits,
  layerEntries,
  tarballCompression,
} from './input.js';
import { DEFAULT_MAX_ENTRIES, type MergeOptions, Merger } from './merge.js';
import type { Tree } from './tree.js';

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
  UnsafePath,
} from './facts.js';
export { FACTS_SCHEMA_VERSION } from './facts.js';
export { parseOsRelease } from './facts-probes.js';
export { LOTL_TOOLS, type LotlTool } from './lotl.js';
export { type Resolution, resolvePath } from './resolve.js';
export { COMPARE_JSON_SCHEMA, FACTS_JSON_SCHEMA, FILES_JSON_SCHEMA } from './schema.js';
export {
  SECRET_RULES,
  type SecretKind,
  type SecretMatch,
  type SecretRule,
  secretCandidate,
  secretRuleFor,
} from './secret-rules.js';
export {
  checkSecurity,
  type SecurityCheck,
  type SecurityIndex,
  type SecurityOptions,
  securitySource,
  withSecurity,
} from './security.js';
export { type FileRow, type LayerStats, MAX_SYMLINK_HOPS, Tree, type TreeNode } from './tree.js';

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
    ...(opts.packageDetails && { packageDetails: true }),
  };
}

/**
 * Whether a layer's blob is compressed, from its media type (a docker-daemon: image's layers come
 * as plain tars). The size of an uncompressed blob is not a compressed size: measuring one would
 * mean gzipping every layer as a push would, about 30 MB/s of CPU here, several times the cost of
 * the whole inspection (docs/decisions/0009-inspect.md), so it is reported unknown.
 */
function isCompressedLayer(mediaType: string): boolean {
  const c = layerCompression(mediaType);
  return c === 'gzip' || c === 'zstd';
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
      const check =
        layer.diffIdChecked === true
          ? undefined
          : {
              diffId: layer.diffId,
              verifiedDigest: verifiesDescriptor(blob, layer.descriptor)
                ? layer.descriptor.digest
                : undefined,
            };
      entries = await m.applyLayer(
        label,
        layerEntries(blob, layer.descriptor.size, label, limits, count, check),
      );
    } catch (err) {
      throw isDistillError(err, 'INSPECT_UNSAFE') ? err : wrapError(err, `reading ${label}`);
    }
    m.tree.layers.push({
      compressed: isCompressedLayer(layer.descriptor.mediaType) ? layer.descriptor.size : null,
      uncompressed: count.bytes,
      entries,
    });
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
    m.tree.layers.push({ compressed: null, uncompressed: count.bytes, entries });
  } else if (st.isFile()) {
    try {
      entries = await m.applyLayer(
        label,
        layerEntries(createReadStream(path), st.size, label, inflateLimits(opts), count),
      );
    } catch (err) {
      throw isDistillError(err, 'INSPECT_UNSAFE') ? err : wrapError(err, `reading ${label}`);
    }
    const compressed = (await tarballCompression(path)) === 'none' ? null : st.size;
    m.tree.layers.push({ compressed, uncompressed: count.bytes, entries });
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

/**
 * The image to inspect of an artifact: an image itself when no platform is asked for, else the
 * image of an index (or the image checked) for `platform`, by default the host's.
 */
export async function imageForPlatform(artifact: Artifact, platform?: Platform): Promise<Image> {
  const image =
    artifact.kind === 'image' && platform === undefined
      ? artifact
      : await selectPlatform(artifact, platform ?? hostPlatform());
  if (image.kind !== 'image')
    throw new DistillError('INTERNAL', 'selecting a platform gave an index', { userError: false });
  return image;
}

/** Facts of an image, or of the image of an index for `opts.platform` (default: the host's). */
export async function inspectArtifact(
  artifact: Artifact,
  opts: InspectOptions & { platform?: Platform } = {},
): Promise<Facts> {
  return inspectImage(await imageForPlatform(artifact, opts.platform), opts);
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
