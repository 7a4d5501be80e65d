import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { DOCKER } from './components.js';

export function docker(args: string[], opts: { input?: string } = {}): string {
  return execFileSync(DOCKER, args, {
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 120_000,
    ...(opts.input !== undefined && { input: opts.input }),
  });
}

/** Removes the images a test made; ones already gone are fine. */
export function removeImages(images: Iterable<string>): void {
  for (const img of images) {
    try {
      docker(['image', 'rm', '-f', img]);
    } catch {
      // already gone
    }
  }
}

/**
 * A tiny image made by the real Docker engine: Debian's static busybox as /bin/busybox with an
 * `sh` link, imported with `docker import`, whose CMD prints `line`.
 */
export async function importBusyboxImage(dir: string, name: string, line: string): Promise<void> {
  const busybox = readFileSync('/bin/busybox');
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  p.entry({ name: 'bin/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  p.entry({ name: 'bin/busybox', mode: 0o755, mtime: new Date(0) }, busybox);
  p.entry({ name: 'bin/sh', type: 'symlink', linkname: 'busybox', mtime: new Date(0) });
  p.entry({ name: 'etc/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  p.entry({ name: 'etc/motd', mode: 0o644, mtime: new Date(0) }, `${line}\n`);
  p.finalize();
  await ended;
  const tar = join(dir, 'rootfs.tar');
  await writeFile(tar, Buffer.concat(chunks));
  docker(['import', '--change', `CMD ["/bin/busybox","echo","${line}"]`, tar, name]);
}

export function dockerRun(image: string, args: string[] = []): string {
  return docker(['run', '--rm', '--network', 'none', image, ...args]).trim();
}
