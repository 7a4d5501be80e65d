import { checkAborted } from '../errors.js';
import type { MediaOptions } from '../media/index.js';
import { type Published, publish } from '../media/publish.js';
import type { Referrer } from '../media/referrer.js';
import type { Artifact } from '../oci/image.js';
import type { Store } from '../store/store.js';

export interface OutputOptions {
  store: Store;
  /** How each medium is written: registry credentials, transfer progress. */
  media?: MediaOptions;
  step?(message: string): void;
  warn?(message: string): void;
  signal?: AbortSignal;
  /** Attestations to attach (build/attest.ts) where the medium holds referrers. */
  referrers?: readonly Referrer[];
  /** An output distill owns: after writing `ref`, the blobs of earlier builds are pruned from `dir`. */
  own?: { ref: string; dir: string };
}

/** What was written to one output (media/publish.ts). */
export type WrittenOutput = Published;

/**
 * Writes an image or index to every output, one after the other, as media/publish.ts does for
 * every command (a medium that holds one image gets the host's image of an index).
 */
export async function writeOutputs(
  artifact: Artifact,
  refs: readonly string[],
  opts: OutputOptions,
): Promise<WrittenOutput[]> {
  checkAborted(opts.signal);
  const step = opts.step;
  const progress = opts.media?.progress ?? (step && { step });
  const written = await publish(artifact, refs, {
    ...opts.media,
    store: opts.store,
    ...(progress && { progress }),
    ...(opts.own && { prune: [opts.own.ref] }),
    ...(opts.referrers && { referrers: opts.referrers }),
  });
  for (const w of written.filter((x) => x.referrersDropped)) {
    opts.warn?.(
      `${w.ref}: this medium cannot hold attestations (SBOMs, provenance), so the image went there without them; write to oci:, oci-archive: or a registry to keep them`,
    );
  }
  // distill's own layout: earlier builds' app layers and manifests are dropped.
  const pruned = written.find((w) => w.ref === opts.own?.ref)?.pruned ?? 0;
  if (pruned > 0) step?.(`removed ${pruned} blobs of earlier builds from .distill/image`);
  return written;
}

/** An image or index built, and where it was written. */
export interface BuildResult {
  artifact: Artifact;
  outputs: WrittenOutput[];
}
