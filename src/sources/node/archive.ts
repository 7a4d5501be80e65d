import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DistillError } from '../../errors.js';
import { readTar, type TarHeader } from '../../layers/read.js';
import { DIR_MODE, safeFileMode } from '../../store/modes.js';
import type { Store } from '../../store/store.js';
import type { TarballRecord } from './download.js';

/**
 * Reading a stored release archive (gzip or xz tar, its top directory stripped): entry by entry,
 * or extracted whole into a directory.
 */
// ---- reading the archive ----------------------------------------------------------------------

/**
 * Path inside the release, without the archive's top directory (`package/` on npm,
 * `node-v<ver>-linux-<arch>/` on a mirror); undefined for the top directory itself. Absolute
 * paths and `..` are NODE_PACKAGE_INVALID.
 */
function releasePath(name: string, what: string): string | undefined {
  if (name.startsWith('/') || name.includes('\0')) {
    throw new DistillError(
      'NODE_PACKAGE_INVALID',
      `${what} has an entry with an absolute path: ${JSON.stringify(name)}`,
    );
  }
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) {
    throw new DistillError(
      'NODE_PACKAGE_INVALID',
      `${what} has an entry that escapes its directory: ${JSON.stringify(name)}`,
    );
  }
  return parts.length > 1 ? parts.slice(1).join('/') : undefined;
}

/**
 * Streams the stored archive through the one tar reader (layers/read.ts), handing each entry
 * (with its release path) to `onEntry`, which must consume or drain it. An archive that is not
 * gzip/xz or not tar is NODE_PACKAGE_INVALID.
 */
export async function walkTarball(
  store: Store,
  rec: TarballRecord,
  onEntry: (path: string, header: TarHeader, body: Readable) => Promise<void>,
): Promise<void> {
  const what = `the archive ${rec.url}`;
  const src = await store.open(rec.tarball.digest, rec.tarball.size);
  for await (const entry of readTar(src, {
    compression: rec.compression,
    what,
    code: 'NODE_PACKAGE_INVALID',
  })) {
    const path = releasePath(entry.header.name, what);
    if (path === undefined) continue;
    await onEntry(path, entry.header, entry.body);
  }
}

export async function drain(body: Readable): Promise<void> {
  for await (const _ of body) {
    // discard
  }
}

export async function readSmall(body: Readable, limit: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of body as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new DistillError('NODE_PACKAGE_INVALID', `${what} is larger than ${limit} bytes`);
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

/** NODE_MODULE_VERSION from node_version.h (the value used when no embedder overrides it). */
export function parseNodeModuleVersion(header: string): string | undefined {
  let found: string | undefined;
  for (const m of header.matchAll(/^\s*#\s*define\s+NODE_MODULE_VERSION\s+(\d+)\s*$/gm)) found = m[1];
  return found;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

/**
 * A stored archive (its top directory stripped) extracted into `dest`: into a temp directory
 * beside it first and renamed into place, so a `dest` that exists is complete and is reused
 * (when every path of `required` is in it) without touching the network.
 */
export async function extractArchiveDir(
  store: Store,
  dest: string,
  required: string[],
  archive: () => Promise<TarballRecord>,
): Promise<string> {
  const complete = async (dir: string) => {
    for (const r of required) if (!(await exists(join(dir, ...r.split('/'))))) return false;
    return true;
  };
  if (await complete(dest)) {
    await store.markUsed(dest); // for cache prune --older-than
    return dest;
  }
  // Extracted under the store's tmp/, whose leftovers a later run sweeps, then renamed into place.
  const tmp = await store.tempPath();
  try {
    const rec = await archive();
    await mkdir(tmp, { recursive: true, mode: DIR_MODE });
    const what = `the archive ${rec.url}`;
    await walkTarball(store, rec, async (path, header, body) => {
      const target = join(tmp, ...path.split('/'));
      switch (header.type) {
        case 'directory':
          await drain(body);
          await mkdir(target, { recursive: true, mode: DIR_MODE });
          return;
        case 'file':
          await mkdir(dirname(target), { recursive: true, mode: DIR_MODE });
          await pipeline(body, createWriteStream(target, { mode: safeFileMode(header.mode) }));
          return;
        case 'symlink': {
          await drain(body);
          const link = header.linkname ?? '';
          const resolved = posix.normalize(posix.join(posix.dirname(path), link));
          if (link === '' || link.startsWith('/') || resolved === '..' || resolved.startsWith('../')) {
            throw new DistillError(
              'NODE_PACKAGE_INVALID',
              `${what}: symlink ${path} points outside the archive (${link})`,
            );
          }
          await mkdir(dirname(target), { recursive: true, mode: DIR_MODE });
          await symlink(link, target);
          return;
        }
        default:
          // Hard links, devices and the like have no place in a release; leave them out.
          await drain(body);
          return;
      }
    });
    if (!(await complete(tmp))) {
      throw new DistillError('NODE_PACKAGE_INVALID', `${what} lacks one of ${required.join(', ')}`);
    }
    try {
      await mkdir(dirname(dest), { recursive: true, mode: DIR_MODE });
      await rename(tmp, dest);
    } catch (err) {
      // Another process finished first: keep its copy.
      if (!(await complete(dest))) throw err;
      await rm(tmp, { recursive: true, force: true });
    }
    return dest;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}
