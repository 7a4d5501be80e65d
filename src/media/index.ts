import { resolve } from 'node:path';
import { DistillError } from '../errors.js';
import type { Artifact } from '../oci/image.js';
import type { Descriptor } from '../oci/types.js';
import type { ImageRef } from '../ref/transport.js';
import type { Store } from '../store/store.js';
import { readDockerArchive, writeDockerArchive } from './archive/archive.js';
import type { TransferProgress } from './blobs.js';
import type { DaemonOptions } from './daemon/client.js';
import { readDaemon, writeDaemon } from './daemon/daemon.js';
import { TarFileSource } from './files.js';
import { DirectorySource } from './layout/directory.js';
import { readLayout } from './layout/read.js';
import { writeLayoutDir, writeOciArchive } from './layout/write.js';
import type { Referrer } from './referrer.js';
import { openRegistry, pushToRegistry, type RegistryOptions } from './registry/index.js';

export interface MediaOptions {
  /**
   * A blob cache for media that need one. None does now: docker-daemon: spools the engine's
   * save stream to a temporary file outside it, so that reading leaves the cache as it was.
   */
  store?: Store;
  progress?: TransferProgress;
  registry?: RegistryOptions;
  /** How the Docker engine is found (default: as the docker CLI finds it in process.env). */
  daemon?: DaemonOptions;
}

/** Opens the image or index a reference names, in any medium. */
export async function openArtifact(ref: ImageRef, opts: MediaOptions = {}): Promise<Artifact> {
  switch (ref.transport) {
    case 'oci':
      return readLayout(new DirectorySource(resolve(ref.path), `OCI layout ${ref.path}`), ref.tag);
    case 'oci-archive':
      return readLayout(await TarFileSource.open(resolve(ref.path), `OCI archive ${ref.path}`), ref.tag);
    case 'docker-archive':
      return readDockerArchive(
        await TarFileSource.open(resolve(ref.path), `docker archive ${ref.path}`),
        ref.ref,
      );
    case 'docker-daemon':
      return readDaemon({
        ...(ref.ref && { ref: ref.ref }),
        ...(ref.id && { id: ref.id }),
        ...(opts.daemon && { daemon: opts.daemon }),
        ...(opts.progress && { progress: opts.progress }),
      });
    case 'docker':
      return openRegistry(ref.ref, registryOptions(opts));
  }
}

export function registryOptions(opts: MediaOptions): RegistryOptions {
  const r: RegistryOptions = { ...opts.registry };
  const blob = opts.progress?.blob;
  if (blob && r.onProgress === undefined) r.onProgress = (e) => blob(e);
  return r;
}

/** Whether a medium can hold OCI 1.1 referrers (docker-archive: and the Docker engine cannot). */
export function holdsReferrers(ref: ImageRef): boolean {
  return ref.transport === 'oci' || ref.transport === 'oci-archive' || ref.transport === 'docker';
}

/**
 * Writes an image or index to a medium, with `referrers` (artifacts whose subject is the image or
 * one of its children) where the medium holds them; returns the descriptor of what was written.
 */
export async function writeArtifact(
  ref: ImageRef,
  artifact: Artifact,
  opts: MediaOptions & { sourceRef?: ImageRef; referrers?: readonly Referrer[] } = {},
): Promise<Descriptor> {
  const progress = opts.progress ?? {};
  const referrers = opts.referrers ?? [];
  if (referrers.length > 0 && !holdsReferrers(ref)) {
    throw new DistillError(
      'REFERRERS_UNSUPPORTED',
      `${ref.transport}: cannot hold attached artifacts (SBOMs, provenance); write to oci:, oci-archive: or a registry to keep them`,
    );
  }
  switch (ref.transport) {
    case 'oci':
      return writeLayoutDir(resolve(ref.path), ref.tag, artifact, progress, referrers);
    case 'oci-archive':
      return writeOciArchive(resolve(ref.path), ref.tag, artifact, progress, referrers);
    case 'docker-archive':
      return writeDockerArchive(resolve(ref.path), ref.ref, artifact, progress);
    case 'docker-daemon':
      if (ref.id !== undefined) {
        throw new DistillError(
          'REF_INVALID',
          'docker-daemon: needs a NAME[:TAG] to write to, not an image ID',
        );
      }
      return writeDaemon(ref.ref, artifact, { progress, ...(opts.daemon && { daemon: opts.daemon }) });
    case 'docker': {
      const src = opts.sourceRef;
      const { digest } = await pushToRegistry(ref.ref, artifact, {
        ...registryOptions(opts),
        ...(src?.transport === 'docker' && { sourceRepository: src.ref }),
        referrers,
      });
      return {
        mediaType: artifact.manifest.mediaType,
        digest,
        size: artifact.manifest.bytes.length,
      };
    }
  }
}
