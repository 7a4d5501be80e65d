import { PassThrough, type Readable } from 'node:stream';
import { pack as makePack, extract as tarExtract } from 'tar-stream';
import { DistillError, wrapError } from '../../errors.js';
import type { Digest } from '../../oci/digest.js';
import { type Artifact, descriptorOf, type Image } from '../../oci/image.js';
import type { Descriptor } from '../../oci/types.js';
import { type DockerReference, familiarName } from '../../ref/docker.js';
import type { Store } from '../../store/store.js';
import { packDockerArchive, readDockerArchive, requireSingleImage } from '../archive/archive.js';
import type { TransferProgress } from '../blobs.js';
import { type FileSource, normalizeMemberPath } from '../files.js';
import { joined } from '../streams.js';
import { type DaemonAddress, daemonRequest, engineMessage, readBody } from './client.js';

/**
 * docker-daemon: reads an image with the engine's save endpoint (a docker-archive stream whose
 * files go into the blob store as they arrive, so nothing is held in memory), and writes one
 * with the load endpoint (a docker-archive streamed as the request body).
 */

/** The files of a tar stream, each kept in the store by its digest. */
class StoredFiles implements FileSource {
  constructor(
    readonly description: string,
    private readonly store: Store,
    private readonly files: Map<string, { digest: Digest; size: number }>,
  ) {}

  private get(path: string): { digest: Digest; size: number } {
    const f = this.files.get(normalizeMemberPath(path));
    if (!f) throw new DistillError('BLOB_MISSING', `${this.description} has no file ${path}`);
    return f;
  }

  async exists(path: string): Promise<boolean> {
    return this.files.has(normalizeMemberPath(path));
  }

  async size(path: string): Promise<number> {
    return this.get(path).size;
  }

  async read(path: string): Promise<Buffer> {
    const f = this.get(path);
    return this.store.readBytes(f.digest, f.size);
  }

  async open(path: string): Promise<Readable> {
    const f = this.get(path);
    return this.store.open(f.digest, f.size);
  }
}

/** Streams a tar into the store, returning where each regular file went. */
export async function storeTarStream(
  stream: Readable,
  store: Store,
  description: string,
  progress: TransferProgress = {},
): Promise<FileSource> {
  const files = new Map<string, { digest: Digest; size: number }>();
  const ex = tarExtract();
  const done = new Promise<void>((resolve, reject) => {
    ex.on('entry', (header, body, next) => {
      if (header.type !== 'file') {
        body.resume();
        body.on('end', next);
        return;
      }
      const name = normalizeMemberPath(header.name);
      const pass = new PassThrough();
      body.pipe(pass);
      store
        .put(pass, undefined, {
          what: `${name} from ${description}`,
          onProgress: (done) =>
            progress.blob?.({ digest: name, done, total: header.size ?? 0, phase: 'pull' }),
        })
        .then((r) => {
          files.set(name, r);
          next();
        })
        .catch((err) => {
          ex.destroy(err);
          reject(err);
        });
    });
    ex.on('finish', resolve);
    ex.on('error', (err) => reject(wrapError(err, `reading ${description}`)));
    stream.on('error', (err) => reject(wrapError(err, `reading ${description}`)));
  });
  stream.pipe(ex as unknown as NodeJS.WritableStream);
  await done;
  return new StoredFiles(description, store, files);
}

function imageName(ref: DockerReference | undefined, id: Digest | undefined): string {
  if (id !== undefined) return id;
  if (ref === undefined) throw new DistillError('REF_INVALID', 'docker-daemon: needs an image name');
  return familiarName(ref);
}

export async function readDaemon(opts: {
  ref?: DockerReference;
  id?: Digest;
  store: Store;
  address?: DaemonAddress;
  progress?: TransferProgress;
}): Promise<Image> {
  const name = imageName(opts.ref, opts.id);
  const res = await daemonRequest('GET', `/images/${encodeURIComponent(name)}/get`, {
    ...(opts.address && { address: opts.address }),
  });
  if (res.statusCode === 404) {
    await readBody(res);
    throw new DistillError(
      'MANIFEST_UNKNOWN',
      `the Docker engine has no image ${name}; list them with docker images`,
    );
  }
  if (res.statusCode !== 200) {
    throw new DistillError(
      'DAEMON',
      `the Docker engine could not save ${name}: ${engineMessage(await readBody(res))}`,
    );
  }
  const files = await storeTarStream(res, opts.store, `docker-daemon:${name}`, opts.progress);
  // An image ID names no tag in the archive; the archive then holds just that image.
  return readDockerArchive(files, opts.id !== undefined ? undefined : opts.ref);
}

export async function writeDaemon(
  ref: DockerReference | undefined,
  artifact: Artifact,
  opts: { address?: DaemonAddress; progress?: TransferProgress } = {},
): Promise<Descriptor> {
  const image = requireSingleImage(artifact, 'docker-daemon');
  const pack = makePack({});
  const filling = packDockerArchive(pack, image, ref ? [familiarName(ref)] : [], opts.progress ?? {}).then(
    () => pack.finalize(),
    (err: unknown) => {
      pack.destroy(err as Error);
      throw err;
    },
  );
  // pipeline, not pipe: a layer failing its check fails the body (and so the request) instead
  // of an 'error' event nobody hears; packing's own error is the one worth reporting.
  const body = joined(pack as unknown as Readable, new PassThrough());
  filling.catch(() => {});
  let res: Awaited<ReturnType<typeof daemonRequest>>;
  try {
    res = await daemonRequest('POST', '/images/load?quiet=1', {
      body,
      headers: { 'Content-Type': 'application/x-tar' },
      ...(opts.address && { address: opts.address }),
    });
  } catch (err) {
    throw await filling.then(
      () => err,
      (packing: unknown) => packing,
    );
  }
  const text = await readBody(res);
  await filling;
  if (res.statusCode !== 200) {
    throw new DistillError('DAEMON', `the Docker engine refused the image: ${engineMessage(text)}`);
  }
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const msg = JSON.parse(line) as { error?: string; errorDetail?: { message?: string } };
      if (msg.error ?? msg.errorDetail?.message) {
        throw new DistillError(
          'DAEMON',
          `the Docker engine could not load the image: ${msg.error ?? msg.errorDetail?.message}`,
        );
      }
    } catch (err) {
      if (err instanceof DistillError) throw err;
    }
  }
  return descriptorOf(image.manifest);
}
