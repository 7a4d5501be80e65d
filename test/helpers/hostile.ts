import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { Digest } from '../../src/oci/digest.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import type { Descriptor } from '../../src/oci/types.js';
import { pseudoRandomBytes, tarWithFile } from './images.js';

/**
 * Layouts written byte by byte, with no check of what they say (distill's own writers refuse a
 * wrong diff_id now), and a child process to run media operations on hostile inputs in.
 */

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function sha(bytes: Uint8Array): Digest {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export interface RawLayer {
  bytes: Buffer;
  mediaType: string;
  /** The diff_id the config declares; default: the true one. */
  diffId?: Digest;
}

/** A layer: a tar with one file of `size` pseudo-random bytes, gzipped when `gzip`. */
export async function rawLayer(
  size: number,
  seed: number,
  gzip: boolean,
): Promise<RawLayer & { diffId: Digest }> {
  const tar = await tarWithFile(`file-${seed}.bin`, pseudoRandomBytes(size, seed));
  return gzip
    ? { bytes: gzipSync(tar), mediaType: MediaType.OciLayerGzip, diffId: sha(tar) }
    : { bytes: tar, mediaType: MediaType.OciLayer, diffId: sha(tar) };
}

export interface RawImage {
  manifest: Descriptor;
  config: Descriptor;
  layers: Descriptor[];
}

/**
 * Writes an OCI layout at `dir` holding one image tagged `tag`, blobs as given, the config
 * declaring each layer's `diffId` (or `diffIds`, which may differ in number from the layers).
 */
export async function writeRawLayout(
  dir: string,
  tag: string,
  layers: RawLayer[],
  diffIds?: Digest[],
): Promise<RawImage> {
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = async (bytes: Buffer, mediaType: string): Promise<Descriptor> => {
    const digest = sha(bytes);
    await writeFile(join(dir, 'blobs', 'sha256', digest.slice(7)), bytes);
    return { mediaType, digest, size: bytes.length };
  };
  const layerDescs: Descriptor[] = [];
  for (const l of layers) layerDescs.push(await put(l.bytes, l.mediaType));
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/true'] },
      rootfs: { type: 'layers', diff_ids: diffIds ?? layers.map((l) => l.diffId ?? sha(l.bytes)) },
    }),
  );
  const configDesc = await put(config, MediaType.OciConfig);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: configDesc,
      layers: layerDescs,
    }),
  );
  const manifestDesc = await put(manifest, MediaType.OciManifest);
  await writeFile(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  await writeFile(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    }),
  );
  return { manifest: manifestDesc, config: configDesc, layers: layerDescs };
}

export function blobFile(dir: string, d: Pick<Descriptor, 'digest'>): string {
  return join(dir, 'blobs', 'sha256', d.digest.slice(7));
}

export interface ChildOutcome {
  ok: boolean;
  code?: string;
  message?: string;
  /** The process's exit code and stderr: 0 and empty unless the operation escaped. */
  exit: number | null;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs test/helpers/media-child.ts with a deadline, so that an operation that hangs fails the
 * test (timedOut) instead of hanging the suite.
 */
export function mediaChild(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): ChildOutcome {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(ROOT, 'test/helpers/media-child.ts'), ...args],
    {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: timeoutMs,
      killSignal: 'SIGKILL',
      env: { ...process.env, ...env },
    },
  );
  const timedOut = r.signal === 'SIGKILL';
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: { ok: boolean; code?: string; message?: string } = { ok: false };
  try {
    parsed = JSON.parse(line) as typeof parsed;
  } catch {
    // no outcome printed: it crashed or hung
  }
  return { ...parsed, exit: r.status, stderr: r.stderr, timedOut };
}

/** Runs bin/distill.js as a user would, with a deadline. */
export function distillChild(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000) {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin/distill.js'), ...args], {
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    env: { ...process.env, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, timedOut: r.signal === 'SIGKILL' };
}

/**
 * Every path under `dir` with what it is: a file's sha256, a link's target, `dir` for a
 * directory; for comparing a destination before and after a failed write.
 */
export async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(p);
      if (st.isDirectory()) {
        out[r] = 'dir';
        await walk(p, r);
      } else if (st.isSymbolicLink()) out[r] = `-> ${await readlink(p)}`;
      else if (st.isFile()) out[r] = sha(await readFile(p));
      else out[r] = 'special';
    }
  };
  await walk(dir, '');
  return out;
}
