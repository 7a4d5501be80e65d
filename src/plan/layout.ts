import type { Readable } from 'node:stream';
import type { LayerEntry } from '../layers/entries.js';
import type { Digest } from '../oci/digest.js';

/**
 * The distroless Node layout, in one place: where Node lives in the image, who runs it, with
 * which environment and entrypoint, and the entries of the Node layer. `distill base` (its
 * nodejs variants and the nonroot flavour) and `distill build` lay images out alike, as
 * distroless's nodejs images do; sources (the Node release) know nothing of it.
 */
export const NODE_DIR = '/nodejs';
export const NODE_BINARY = '/nodejs/bin/node';
export const NODE_LICENSE = '/nodejs/LICENSE';

/** Debian's default PATH; the debug flavour appends the busybox directory. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Where `--debug` puts busybox and its applets. */
export const BUSYBOX_DIR = '/busybox';
/** The CA bundle every image carries (image path without the leading slash, as layers name it). */
export const CA_BUNDLE_PATH = 'etc/ssl/certs/ca-certificates.crt';

/** The nonroot user of distroless images (its passwd line is in build/base/synthetic.ts). */
export const NONROOT_UID = 65532;
export const NONROOT_USER = `${NONROOT_UID}:${NONROOT_UID}`;
export const NONROOT_HOME = '/home/nonroot';

/** Where `distill build` puts the app. */
export const APP_DIR = '/app';
/**
 * Debian's tini, PID 1 of app images unless `--no-init` (decision 0015): it passes SIGTERM on to
 * Node, which as PID 1 would ignore it. The dynamically linked one (28 KB; the images have
 * glibc), not tini-static (708 KB), which app images leave out (plan/variants.ts).
 */
export const TINI_BINARY = '/usr/bin/tini';
/** The Debian package that provides TINI_BINARY. */
export const TINI_PACKAGE = 'tini';
/** What app images leave out of tini's package. */
export const TINI_STATIC = 'usr/bin/tini-static';

/** PATH and SSL_CERT_FILE of every image, plus NODE_VERSION where Node is in it. */
export function layoutEnv(opts: { debug: boolean; nodeVersion?: string }): Record<string, string> {
  return {
    PATH: opts.debug ? `${DEFAULT_PATH}:${BUSYBOX_DIR}` : DEFAULT_PATH,
    SSL_CERT_FILE: `/${CA_BUNDLE_PATH}`,
    ...(opts.nodeVersion !== undefined && { NODE_VERSION: opts.nodeVersion }),
  };
}

/**
 * The entrypoint of an image that runs Node: the binary itself, or under tini (init). `-s` makes
 * tini a child subreaper when it is not PID 1 (`docker run --init`, a Kubernetes pod sharing its
 * process namespace), where it would otherwise warn that zombies are not reaped.
 */
export function nodeEntrypoint(init = false): string[] {
  return init ? [TINI_BINARY, '-s', '--', NODE_BINARY] : [NODE_BINARY];
}

/** A blob of the store: a file of a Node release (bin/node, LICENSE). */
export interface NodeBlob {
  digest: Digest;
  size: number;
}

/** A layer entry with the digest of its content, as build/layercache.ts caches layers by. */
export interface NodeLayerEntry {
  entry: LayerEntry;
  contentDigest?: Digest;
}

/**
 * The Node layer, laid out like distroless's nodejs images: `/nodejs/bin/node` (0755) and
 * `/nodejs/LICENSE` (0644), their bytes opened from wherever the release's blobs are kept
 * (`open`) when the layer is built, each named by its digest for the layer cache.
 */
export function nodeLayerEntries(
  release: { binary: NodeBlob; license: NodeBlob },
  open: (blob: NodeBlob) => Promise<Readable>,
): NodeLayerEntry[] {
  const file = (path: string, mode: number, blob: NodeBlob): NodeLayerEntry => ({
    entry: { type: 'file', path, mode, source: { kind: 'stream', size: blob.size, open: () => open(blob) } },
    contentDigest: blob.digest,
  });
  return [
    { entry: { type: 'dir', path: NODE_DIR, mode: 0o755 } },
    { entry: { type: 'dir', path: `${NODE_DIR}/bin`, mode: 0o755 } },
    file(NODE_BINARY, 0o755, release.binary),
    file(NODE_LICENSE, 0o644, release.license),
  ];
}
