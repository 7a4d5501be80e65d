import { checkAborted } from '../errors.js';
import { type MediaOptions, writeArtifact } from '../media/index.js';
import { pruneLayout } from '../media/layout/write.js';
import type { Artifact } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import { parseImageRef } from '../ref/transport.js';
import type { Store } from '../store/store.js';

export interface OutputOptions {
  store: Store;
  /** How each medium is written: registry credentials, transfer progress. */
  media?: MediaOptions;
  step?(message: string): void;
  signal?: AbortSignal;
  /** An output distill owns: after writing `ref`, the blobs of earlier builds are pruned from `dir`. */
  own?: { ref: string; dir: string };
}

/** What was written to one output. */
export interface WrittenOutput {
  /** The reference as given. */
  ref: string;
  /** The manifest or index written there. */
  descriptor: Descriptor;
  /** Blobs of earlier builds removed (distill's own layout only). */
  pruned: number;
}

/** Writes an image or index to every output, one after the other. */
export async function writeOutputs(
  artifact: Artifact,
  refs: readonly string[],
  opts: OutputOptions,
): Promise<WrittenOutput[]> {
  const written: WrittenOutput[] = [];
  for (const ref of refs) {
    checkAborted(opts.signal);
    opts.step?.(`writing ${ref}`);
    const descriptor = await writeArtifact(parseImageRef(ref), artifact, {
      ...opts.media,
      store: opts.store,
    });
    let pruned = 0;
    if (opts.own !== undefined && ref === opts.own.ref) {
      // distill's own layout: earlier builds' app layers and manifests are dropped.
      pruned = await pruneLayout(opts.own.dir).catch(() => 0);
      if (pruned > 0) opts.step?.(`removed ${pruned} blobs of earlier builds from .distill/image`);
    }
    written.push({ ref, descriptor, pruned });
  }
  return written;
}

/** An image or index built, and where it was written. */
export interface BuildResult {
  artifact: Artifact;
  outputs: WrittenOutput[];
}
