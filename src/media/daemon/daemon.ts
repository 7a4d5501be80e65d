import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { PassThrough, type Readable } from 'node:stream';
import { pack as makePack } from 'tar-stream';
import { DistillError, isDistillError } from '../../errors.js';
import { hostEnv } from '../../host.js';
import type { Digest } from '../../oci/digest.js';
import { type Artifact, descriptorOf, type Image } from '../../oci/image.js';
import type { Descriptor } from '../../oci/types.js';
import { type DockerReference, familiarName } from '../../ref/docker.js';
import { packDockerArchive, readDockerArchive, requireSingleImage } from '../archive/archive.js';
import type { TransferProgress } from '../blobs.js';
import { joined } from '../streams.js';
import { DaemonClient, type DaemonOptions, engineMessage, readBody } from './client.js';
import { SpoolFiles } from './spool.js';

/**
 * docker-daemon: reads an image with the engine's save endpoint: the docker-archive it streams is
 * spooled to a private, already unlinked temporary file (TMPDIR), each file hashed once on the
 * way (a classic archive's layer tar is uncompressed, so that one digest is also its diff_id),
 * and nothing goes into the blob store. Writes one with the load endpoint (a docker-archive
 * streamed as the request body). The engine is found as the docker CLI finds it (endpoint.ts).
 */

function imageName(ref: DockerReference | undefined, id: Digest | undefined): string {
  if (id !== undefined) return id;
  if (ref === undefined) throw new DistillError('REF_INVALID', 'docker-daemon: needs an image name');
  return familiarName(ref);
}

export async function readDaemon(opts: {
  ref?: DockerReference;
  id?: Digest;
  daemon?: DaemonOptions;
  progress?: TransferProgress;
}): Promise<Image> {
  const name = imageName(opts.ref, opts.id);
  const client = await DaemonClient.open(opts.daemon);
  const res = await client.request('GET', `/images/${encodeURIComponent(name)}/get`);
  if (res.statusCode === 404) {
    await readBody(res);
    throw new DistillError(
      'MANIFEST_UNKNOWN',
      `the Docker engine at ${client.where} has no image ${name}; list them with docker images`,
    );
  }
  if (res.statusCode !== 200) {
    throw new DistillError(
      'DAEMON',
      `the Docker engine at ${client.where} could not save ${name}: ${engineMessage(await readBody(res))}`,
    );
  }
  const description = `docker-daemon:${name}`;
  let files: SpoolFiles;
  try {
    files = await SpoolFiles.fromTar(res, {
      dir: spoolDir(opts.daemon),
      description,
      ...(opts.progress && { progress: opts.progress }),
    });
  } catch (err) {
    if (!res.destroyed) res.destroy();
    if (isDistillError(err, 'IO') || isDistillError(err, 'ARCHIVE_INVALID')) throw err;
    throw new DistillError(
      'DAEMON',
      `the image ${name} the Docker engine at ${client.where} sent broke off or is not a tar: ${(err as Error).message}`,
      { cause: err },
    );
  }
  try {
    // An image ID names no tag in the archive; the archive then holds just that image.
    return await readDockerArchive(files, opts.id !== undefined ? undefined : opts.ref);
  } catch (err) {
    await files.close();
    throw err;
  }
}

/** Where the save stream is spooled: TMPDIR of the given environment, else the system's. */
function spoolDir(opts: DaemonOptions | undefined): string {
  const dir = (opts?.env ?? hostEnv()).TMPDIR;
  return dir !== undefined && dir !== '' ? dir : tmpdir();
}

export async function writeDaemon(
  ref: DockerReference | undefined,
  artifact: Artifact,
  opts: { daemon?: DaemonOptions; progress?: TransferProgress } = {},
): Promise<Descriptor> {
  const image = requireSingleImage(artifact, 'docker-daemon');
  // The endpoint first: a bad DOCKER_HOST or TLS file fails before anything is packed.
  const client = await DaemonClient.open(opts.daemon);
  const pack = makePack({});
  const filling = packDockerArchive(pack, image, ref ? [familiarName(ref)] : [], opts.progress ?? {}).then(
    () => pack.finalize(),
    (err: unknown) => {
      pack.destroy(err as Error);
      throw err;
    },
  );
  // pipeline, not pipe: a layer failing its check fails the body (and so the request) instead
  // of an 'error' event nobody hears.
  const body = joined(pack as unknown as Readable, new PassThrough());
  filling.catch(() => {}); // awaited below, or looked at when the request fails
  let res: IncomingMessage;
  try {
    res = await client.request('POST', '/images/load?quiet=1', {
      body,
      headers: { 'Content-Type': 'application/x-tar' },
    });
  } catch (err) {
    // Stop packing. When packing failed first (a layer failing its check), its error says what
    // happened; when the engine is out of reach, the engine's does (packing only got cut short).
    pack.destroy();
    const packing = await filling.then(
      () => undefined,
      (e: unknown) => e,
    );
    throw isDistillError(packing) ? packing : err;
  }
  const text = await readBody(res);
  await filling;
  if (res.statusCode !== 200) {
    throw new DistillError(
      'DAEMON',
      `the Docker engine at ${client.where} refused the image: ${engineMessage(text)}`,
    );
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const msg = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
      if (msg.error ?? msg.errorDetail?.message) {
        throw new DistillError(
          'DAEMON',
          `the Docker engine at ${client.where} could not load the image: ${msg.error ?? msg.errorDetail?.message}`,
        );
      }
    } catch (err) {
      if (err instanceof DistillError) throw err;
    }
  }
  return descriptorOf(image.manifest);
}
