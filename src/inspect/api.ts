import { DistillError } from '../errors.js';
import type { MediaOptions } from '../media/index.js';
import type { Platform } from '../oci/types.js';
import { type ImageRef, parseImageRef } from '../ref/transport.js';
import type { Facts } from './facts.js';
import { type InspectOptions, inspectReference, inspectRootfs } from './index.js';
import { compareRows, type Row } from './rows.js';
import type { SecurityIndex } from './security.js';

/**
 * The library's `inspect` and `compare`, as the CLI's `distill inspect` and `distill compare`
 * run them: a target is an image reference in any medium (`oci:DIR:TAG`, `docker://...`, a bare
 * registry reference, ...) or `rootfs:PATH`, a root filesystem as a directory or a tarball.
 */
export const ROOTFS_PREFIX = 'rootfs:';

export type InspectTarget = { kind: 'rootfs'; path: string } | { kind: 'image'; ref: ImageRef };

/** `rootfs:PATH`, else an image reference (parseImageRef). */
export function parseTarget(input: string): InspectTarget {
  if (input.startsWith(ROOTFS_PREFIX)) {
    const path = input.slice(ROOTFS_PREFIX.length);
    if (path === '') {
      throw new DistillError(
        'USAGE',
        'rootfs: needs a path: a directory or a tarball, e.g. rootfs:./root or rootfs:root.tar.gz',
      );
    }
    return { kind: 'rootfs', path };
  }
  return { kind: 'image', ref: parseImageRef(input) };
}

export interface InspectTargetOptions extends InspectOptions {
  /** The image of an index to read (default: the host's); not for a root filesystem. */
  platform?: Platform;
  /** How images are read: the store, registry credentials, progress. */
  media?: MediaOptions;
  /** Debian's security archive (inspect/security.ts securitySource): adds what it has newer. */
  security?: SecurityIndex;
  /** Told before each step: reading the target, asking the security archive. */
  step?(message: string): void;
}

/** The facts of one image or root filesystem (the JSON of `distill inspect --format json`). */
export async function inspect(target: string, opts: InspectTargetOptions = {}): Promise<Facts> {
  const t = parseTarget(target);
  if (t.kind === 'rootfs' && opts.platform !== undefined) {
    throw new DistillError('USAGE', `--platform picks an image of an index; ${target} is a root filesystem`);
  }
  const { platform, media, security, step, ...options } = opts;
  step?.(`inspecting ${target}`);
  const facts =
    t.kind === 'rootfs'
      ? await inspectRootfs(t.path, options)
      : await inspectReference(t.ref, {
          ...options,
          ...(media && { media }),
          ...(platform && { platform }),
        });
  if (!security) return facts;
  step?.(`checking ${target} against Debian's security archive`);
  const { withSecurity } = await import('./security.js');
  return withSecurity(facts, security);
}

/**
 * Several images side by side: each one's facts (read one after the other, each merged tree
 * dropped before the next is read) and one row per fact, differences marked.
 */
export async function compare(
  targets: readonly string[],
  opts: InspectTargetOptions = {},
): Promise<{ images: { name: string; facts: Facts }[]; rows: Row[] }> {
  const images: { name: string; facts: Facts }[] = [];
  for (const name of targets) images.push({ name, facts: await inspect(name, opts) });
  return { images, rows: compareRows(images.map((i) => i.facts)) };
}
