import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TAR_END, tarBlock, tarData } from '../../helpers/tar-blocks.js';

/**
 * A set of files (an OCI layout's or an archive's) as one byte string, so that every fuzz input is
 * bytes (saved as is in test/corpus): per file a type byte (0 file, 1 directory, 2 symlink), a
 * 16-bit name length, the name, a 32-bit data length, the data (a symlink's target). The decoder
 * reads anything: what does not fit ends the list.
 */
export interface FileSpec {
  type: 'file' | 'dir' | 'symlink';
  path: string;
  data: Uint8Array;
}

const TYPES = ['file', 'dir', 'symlink'] as const;

export function encodeFiles(files: readonly FileSpec[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    const name = Buffer.from(f.path);
    const head = Buffer.alloc(7);
    head[0] = TYPES.indexOf(f.type);
    head.writeUInt16LE(name.length, 1);
    head.writeUInt32LE(f.data.length, 3 + 0);
    parts.push(head.subarray(0, 3), name, head.subarray(3, 7), Buffer.from(f.data));
  }
  return Buffer.concat(parts);
}

export function decodeFiles(input: Uint8Array, maxFiles = 64): FileSpec[] {
  const b = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const out: FileSpec[] = [];
  let i = 0;
  while (i + 3 <= b.length && out.length < maxFiles) {
    const type = TYPES[b[i]! % 3]!;
    const nameLen = b.readUInt16LE(i + 1);
    if (i + 3 + nameLen + 4 > b.length) break;
    const path = b.toString('utf8', i + 3, i + 3 + nameLen);
    const dataLen = b.readUInt32LE(i + 3 + nameLen);
    const start = i + 7 + nameLen;
    if (start + dataLen > b.length) break;
    out.push({ type, path, data: b.subarray(start, start + dataLen) });
    i = start + dataLen;
  }
  return out;
}

/** A path made safe to create under a root: no `..`, no leading `/`, no NUL, not empty. */
function safePath(p: string): string | undefined {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.' && s !== '..' && !s.includes('\0'));
  const joined = parts.join('/');
  return joined === '' || joined.length > 200 ? undefined : joined;
}

/** Creates the files under `root` (a fresh directory); what cannot be created is left out. */
export async function writeFiles(root: string, files: readonly FileSpec[]): Promise<void> {
  for (const f of files) {
    const rel = safePath(f.path);
    if (rel === undefined) continue;
    const p = join(root, rel);
    try {
      await mkdir(dirname(p), { recursive: true });
      if (f.type === 'dir') await mkdir(p, { recursive: true });
      else if (f.type === 'symlink')
        await symlink(Buffer.from(f.data).toString('utf8').replace(/\0/g, '') || '.', p);
      else await writeFile(p, f.data);
    } catch {
      // a name used twice, a file where a directory is wanted: left out, as a tool would fail
    }
  }
}

/** The files as an uncompressed tar (what `oci-archive:` and `docker-archive:` files are). */
export function filesTar(files: readonly FileSpec[]): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    if (f.type === 'dir') blocks.push(tarBlock({ name: f.path, flag: '5' }));
    else if (f.type === 'symlink')
      blocks.push(tarBlock({ name: f.path, flag: '2', linkname: Buffer.from(f.data).toString('utf8') }));
    else blocks.push(tarBlock({ name: f.path, size: f.data.length }), tarData(Buffer.from(f.data)));
  }
  return Buffer.concat([...blocks, TAR_END]);
}
