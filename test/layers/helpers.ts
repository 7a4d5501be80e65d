import { rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import type { TestContext } from 'node:test';
import { readLayer, type TarHeader } from '../../src/layers/read.js';
import type { Compression } from '../../src/oci/mediatypes.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';

/** A fresh store in a temp dir, removed when the test ends. */
export async function tempStore(t: TestContext): Promise<Store> {
  const dir = await tempDir('distill-layers-store-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new Store(dir);
}

export async function tempDirFor(t: TestContext, prefix = 'distill-layers-'): Promise<string> {
  const dir = await tempDir(prefix);
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface ReadEntry {
  header: TarHeader;
  content: Buffer;
}

/** Every entry of a layer with its content. */
export async function readAll(stream: Readable, compression?: Compression): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  for await (const { header, body } of readLayer(stream, compression ? { compression } : {})) {
    const chunks: Buffer[] = [];
    for await (const c of body) chunks.push(c as Buffer);
    out.push({ header, content: Buffer.concat(chunks) });
  }
  return out;
}

export async function streamBytes(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Fails the test (instead of hanging the run) when a promise does not settle in time. */
export async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not settle within ${ms} ms (hang)`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
