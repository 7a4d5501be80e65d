import { chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { entriesFromDirectory } from '../../src/layers/directory.js';
import type { LayerEntry } from '../../src/layers/entries.js';

/**
 * The fixed tree of the golden layer test, shared with scripts/update-golden.ts. Changing it
 * changes the golden digests: rerun `node --import tsx scripts/update-golden.ts` and review.
 */
export const GOLDEN_EPOCH = 1_700_000_000;

/** 100+ characters in one path component, so that it needs a pax `path` record. */
export const LONG_NAME = `${'very-long-file-name-'.repeat(6)}end.txt`;
/** More than 100 characters over several components, fits the ustar prefix/name split. */
export const LONG_DIR_PATH = `deep/${'nested-directory/'.repeat(7)}file.js`;

/** Writes the on-disk part of the golden tree under `dir`. */
export async function writeGoldenDirectory(dir: string): Promise<void> {
  await mkdir(join(dir, 'bin'), { recursive: true });
  await mkdir(join(dir, 'lib', 'node_modules', 'pkg'), { recursive: true });
  await mkdir(join(dir, 'empty'), { recursive: true });
  await mkdir(join(dir, LONG_DIR_PATH, '..'), { recursive: true });
  await writeFile(join(dir, 'index.js'), "console.log('hello from distill');\n");
  await writeFile(join(dir, 'bin', 'run'), '#!/usr/bin/env node\nrequire("../index.js");\n');
  await chmod(join(dir, 'bin', 'run'), 0o755);
  await writeFile(
    join(dir, 'lib', 'node_modules', 'pkg', 'package.json'),
    '{"name":"pkg","version":"1.0.0"}\n',
  );
  await writeFile(join(dir, LONG_NAME), 'long name\n');
  await writeFile(join(dir, LONG_DIR_PATH), 'module.exports = 42;\n');
  await link(join(dir, 'index.js'), join(dir, 'lib', 'index-hardlink.js'));
  await symlink('../index.js', join(dir, 'bin', 'index-symlink.js'));
  await symlink(`../${'x'.repeat(120)}/target`, join(dir, 'bin', 'long-link'));
}

/** Entries built in memory, next to the directory's. */
export function memoryEntries(): LayerEntry[] {
  const big = Buffer.alloc(70_000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 7 + (i >> 8)) & 0xff;
  // Over 1 MiB, so the layer's gzip spans several blocks of the parallel compressor (whose
  // block size is part of the output); half text-like, half noise.
  const blocks = Buffer.alloc(3 * 1024 * 1024 + 123);
  let x = 12345;
  for (let i = 0; i < blocks.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    blocks[i] = i % 2048 < 1024 ? 97 + ((i >> 3) % 26) : x >>> 24;
  }
  return [
    { type: 'file', path: '/usr/share/golden/multi-block.bin', source: { kind: 'bytes', bytes: blocks } },
    { type: 'dir', path: '/etc', mode: 0o755 },
    {
      type: 'file',
      path: '/etc/passwd',
      source: { kind: 'bytes', bytes: Buffer.from('root:x:0:0:root:/root:/sbin/nologin\n') },
    },
    {
      type: 'file',
      path: '/etc/motd',
      mode: 0o600,
      uid: 1000,
      gid: 1000,
      source: { kind: 'bytes', bytes: new Uint8Array() },
    },
    {
      type: 'file',
      path: '/usr/bin/ping',
      mode: 0o4755,
      source: { kind: 'bytes', bytes: Buffer.from('\x7fELF not really') },
      xattrs: { 'user.distill.test': 'value with spaces = and unicode é', 'security.note': 'x' },
    },
    {
      type: 'file',
      path: '/usr/share/blob.bin',
      source: {
        kind: 'stream',
        size: big.length,
        open: async () => Readable.from([big.subarray(0, 1000), big.subarray(1000)]),
      },
    },
    { type: 'dir', path: '/var/empty', mode: 0o700, uid: 65532, gid: 65532, xattrs: { 'user.dir': 'yes' } },
    { type: 'symlink', path: '/usr/bin/sh', target: '/bin/busybox' },
    { type: 'hardlink', path: '/usr/bin/ping6', target: '/usr/bin/ping' },
    {
      type: 'file',
      path: '/usr/share/ünïcödé-名前.txt',
      source: { kind: 'bytes', bytes: Buffer.from('utf8 name\n') },
    },
  ];
}

/** The whole golden tree: memory entries plus `dir` (written first) mounted at /app. */
export async function goldenEntries(dir: string): Promise<LayerEntry[]> {
  await writeGoldenDirectory(dir);
  return [...memoryEntries(), ...(await entriesFromDirectory(dir, { prefix: '/app', uid: 1000, gid: 1000 }))];
}
