import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { which } from './components.js';

/**
 * Small stand-ins for a Node release archive, an npm registry and a Node dist mirror, served on
 * 127.0.0.1, for tests that must not depend on the network.
 */

export interface FakeRelease {
  /** Top directory inside the archive: `package` (npm) or `node-v<ver>-linux-<arch>` (mirror). */
  top: string;
  /** Contents of bin/node (a shell script or a tiny ELF file in tests); left out when undefined. */
  node?: string | Buffer | undefined;
  license?: string | undefined;
  /** NODE_MODULE_VERSION written into include/node/node_version.h; no header when undefined. */
  abi?: number | undefined;
}

export function fakeNodeVersionHeader(abi: number): string {
  return [
    '#ifndef SRC_NODE_VERSION_H_',
    '#define SRC_NODE_VERSION_H_',
    '#define NODE_MAJOR_VERSION 99',
    '#if defined(NODE_EMBEDDER_MODULE_VERSION)',
    '#define NODE_MODULE_VERSION NODE_EMBEDDER_MODULE_VERSION',
    '#else',
    `#define NODE_MODULE_VERSION ${abi}`,
    '#endif',
    '#endif',
    '',
  ].join('\n');
}

/** An uncompressed tar of a fake release, made with tar-stream. */
export async function fakeReleaseTar(r: FakeRelease): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  const add = (header: tar.Header | Parameters<typeof pack.entry>[0], body?: string | Buffer) =>
    new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body === undefined) pack.entry(header, cb);
      else pack.entry(header, body, cb);
    });
  await add({ name: `${r.top}/`, type: 'directory', mode: 0o755 });
  await add({ name: `${r.top}/bin/`, type: 'directory', mode: 0o755 });
  if (r.node !== undefined) await add({ name: `${r.top}/bin/node`, mode: 0o755 }, r.node);
  if (r.license !== undefined) await add({ name: `${r.top}/LICENSE`, mode: 0o644 }, r.license);
  await add({ name: `${r.top}/README.md`, mode: 0o644 }, '# fake node\n');
  if (r.abi !== undefined) {
    await add({ name: `${r.top}/include/node/`, type: 'directory', mode: 0o755 });
    await add({ name: `${r.top}/include/node/node_version.h`, mode: 0o644 }, fakeNodeVersionHeader(r.abi));
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}

export const HAVE_XZ = which('xz') !== undefined;

export function gzip(b: Buffer): Buffer {
  return gzipSync(b);
}

/** xz-compressed with the xz tool (there is no xz compressor in Node). */
export function xz(b: Buffer): Buffer {
  return execFileSync('xz', ['-c', '-6'], { input: b, maxBuffer: 1 << 28 });
}

export function sha(alg: 'sha1' | 'sha256' | 'sha512', b: Buffer | string): Buffer {
  return createHash(alg).update(b).digest();
}

export interface FakeServer {
  url: string;
  /** Paths requested so far, in order. */
  requests: string[];
  /** Path -> body; change it between requests as a test needs. */
  routes: Map<string, Buffer | string>;
  close(): Promise<void>;
}

/** Serves fixed bodies by path on 127.0.0.1; anything else is 404. */
export async function startFakeServer(routes: Record<string, Buffer | string> = {}): Promise<FakeServer> {
  const map = new Map(Object.entries(routes));
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    requests.push(path);
    const body = map.get(path);
    if (body === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(200, { 'content-length': String(bytes.length) }).end(bytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    routes: map,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
