import { checkAborted } from '../errors.js';
import { type MediaOptions, writeArtifact } from '../media/index.js';
import { pruneLayout } from '../media/layout/write.js';
import type { Artifact } from '../oci/image.js';
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

/** Writes an image or index to every output, one after the other. */
export async function writeOutputs(
  artifact: Artifact,
  refs: readonly string[],
  opts: OutputOptions,
): Promise<void> {
  for (const out of refs) {
    checkAborted(opts.signal);
    opts.step?.(`writing ${out}`);
    await writeArtifact(parseImageRef(out), artifact, { ...opts.media, store: opts.store });
    if (opts.own !== undefined && out === opts.own.ref) {
      // distill's own layout: earlier builds' app layers and manifests are dropped.
      const removed = await pruneLayout(opts.own.dir).catch(() => 0);
      if (removed > 0) opts.step?.(`removed ${removed} blobs of earlier builds from .distill/image`);
    }
  }
}
