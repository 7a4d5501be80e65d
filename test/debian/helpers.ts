/** Test helpers for src/debian: real dpkg, real apt lists, hand-made ar/tar archives. */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';

export { IN_CI, requireComponents, which } from '../helpers/components.js';

/**
 * Compares many version pairs with `dpkg --compare-versions` in one shell process; returns
 * -1 / 0 / 1 per pair, in order.
 */
export async function dpkgCompareBatch(pairs: readonly (readonly [string, string])[]): Promise<number[]> {
  const dir = await mkdtemp(join(tmpdir(), 'distill-dpkgcmp-'));
  try {
    const file = join(dir, 'pairs');
    writeFileSync(file, pairs.map(([a, b]) => `${a} ${b}\n`).join(''));
    const script =
      'while read -r a b; do if dpkg --compare-versions "$a" lt "$b"; then echo -1; ' +
      'elif dpkg --compare-versions "$a" eq "$b"; then echo 0; else echo 1; fi; done < "$1"';
    const r = spawnSync('sh', ['-c', script, 'sh', file], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`dpkg batch failed: ${r.stderr}`);
    const out = r.stdout.trim().split('\n').map(Number);
    if (out.length !== pairs.length)
      throw new Error(`dpkg batch returned ${out.length} results for ${pairs.length}`);
    return out;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The text of a real binary Packages index from this host's apt lists (bookworm main amd64
 * after `apt-get update`), decompressed; undefined with a reason when there is none.
 */
export function realPackagesIndex(): { text: string; file: string } | { reason: string } {
  const dir = '/var/lib/apt/lists';
  if (!existsSync(dir)) return { reason: `${dir} does not exist` };
  const files = readdirSync(dir)
    .filter((f) => /_main_binary-[a-z0-9]+_Packages(\.(lz4|gz|xz))?$/.test(f))
    .sort((a, b) => {
      // prefer the main suite (biggest) over -updates / -security
      const score = (f: string) => (/(updates|security)/.test(f) ? 1 : 0);
      return score(a) - score(b) || a.localeCompare(b);
    });
  const file = files[0];
  if (!file) return { reason: `no *_main_binary-*_Packages file in ${dir} (run apt-get update)` };
  const path = join(dir, file);
  try {
    let buf: Buffer;
    if (file.endsWith('.lz4')) buf = execFileSync('lz4', ['-dc', path], { maxBuffer: 1 << 30 });
    else if (file.endsWith('.gz')) buf = execFileSync('gzip', ['-dc', path], { maxBuffer: 1 << 30 });
    else if (file.endsWith('.xz')) buf = execFileSync('xz', ['-dc', path], { maxBuffer: 1 << 30 });
    else buf = readFileSync(path);
    return { text: buf.toString('utf8'), file: path };
  } catch (err) {
    return { reason: `cannot decompress ${path}: ${(err as Error).message}` };
  }
}

export interface ArMemberSpec {
  name: string;
  data: Uint8Array | string;
  /** Override the size field written in the header. */
  declaredSize?: string;
}

/** A GNU/SysV ar archive as dpkg-deb writes it (names with no trailing slash, even padding). */
export function arArchive(members: readonly ArMemberSpec[], opts: { gnuNames?: boolean } = {}): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    const data = typeof m.data === 'string' ? Buffer.from(m.data) : Buffer.from(m.data);
    const name = opts.gnuNames ? `${m.name}/` : m.name;
    const header =
      name.padEnd(16) +
      '0'.padEnd(12) +
      '0'.padEnd(6) +
      '0'.padEnd(6) +
      '100644'.padEnd(8) +
      (m.declaredSize ?? String(data.length)).padEnd(10) +
      '`\n';
    if (header.length !== 60) throw new Error(`bad ar header length for ${m.name}`);
    parts.push(Buffer.from(header, 'latin1'), data);
    if (data.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

export interface TarEntrySpec {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo';
  content?: string | Buffer;
  mode?: number;
  linkname?: string;
}

/** An uncompressed tar made with tar-stream (any names, including hostile ones). */
export async function tarArchive(entries: readonly TarEntrySpec[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(c as Buffer);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const body = type === 'file' ? (e.content ?? '') : undefined;
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
        mtime: new Date(0),
        ...(e.linkname === undefined ? {} : { linkname: e.linkname }),
      };
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body === undefined) pack.entry(header, cb);
      else pack.entry(header, typeof body === 'string' ? Buffer.from(body) : body, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

export const MINIMAL_CONTROL = 'Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nDescription: test\n';

/** A .deb assembled by hand: control.tar.gz and data.tar.gz from the given entries. */
export async function handMadeDeb(opts: {
  control?: string;
  controlEntries?: TarEntrySpec[];
  data?: TarEntrySpec[];
  dataMemberName?: string;
  dataBytes?: Buffer;
}): Promise<Buffer> {
  const controlTar = await tarArchive(
    opts.controlEntries ?? [
      { name: './', type: 'directory' },
      { name: './control', content: opts.control ?? MINIMAL_CONTROL },
    ],
  );
  const dataTar =
    opts.dataBytes ?? gzipSync(await tarArchive(opts.data ?? [{ name: './', type: 'directory' }]));
  return arArchive([
    { name: 'debian-binary', data: '2.0\n' },
    { name: 'control.tar.gz', data: gzipSync(controlTar) },
    { name: opts.dataMemberName ?? 'data.tar.gz', data: dataTar },
  ]);
}

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'distill-debian-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
