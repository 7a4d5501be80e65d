/**
 * Writes examples/hello-image: an OCI layout holding a runnable linux/amd64 image whose only file
 * is /hello, a 150-byte static ELF program (made here, byte by byte) that prints a line and exits.
 * Layer, config and manifest come from distill's own layers and image model, so the layout is
 * reproducible: running this script again gives the same digest.
 *
 *   node --import tsx scripts/make-example.ts
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { buildLayer } from '../src/layers/index.js';
import { writeLayoutDir } from '../src/media/layout/write.js';
import { appendLayers, emptyImage, setContainerConfig, setImageConfig } from '../src/oci/mutate.js';
import { Store } from '../src/store/store.js';

const MESSAGE = 'Hello from a distill image!\n';

/** x86-64 Linux: write(1, msg, len); exit(0). */
export function helloElf(message: string): Buffer {
  const msg = Buffer.from(message);
  const code = Buffer.from([
    0xb8,
    0x01,
    0x00,
    0x00,
    0x00, // mov eax, 1 (write)
    0xbf,
    0x01,
    0x00,
    0x00,
    0x00, // mov edi, 1 (stdout)
    0x48,
    0x8d,
    0x35,
    0x10,
    0x00,
    0x00,
    0x00, // lea rsi, [rip+16] (msg, right after the code)
    0xba,
    msg.length,
    0x00,
    0x00,
    0x00, // mov edx, len
    0x0f,
    0x05, // syscall
    0xb8,
    0x3c,
    0x00,
    0x00,
    0x00, // mov eax, 60 (exit)
    0x31,
    0xff, // xor edi, edi
    0x0f,
    0x05, // syscall
  ]);
  const base = 0x400000;
  const headers = 64 + 56;
  const size = headers + code.length + msg.length;
  const elf = Buffer.alloc(size);
  Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]).copy(elf, 0);
  elf.writeUInt16LE(2, 16); // ET_EXEC
  elf.writeUInt16LE(0x3e, 18); // x86-64
  elf.writeUInt32LE(1, 20);
  elf.writeBigUInt64LE(BigInt(base + headers), 24); // entry
  elf.writeBigUInt64LE(64n, 32); // program headers right after this header
  elf.writeUInt16LE(64, 52);
  elf.writeUInt16LE(56, 54);
  elf.writeUInt16LE(1, 56);
  // PT_LOAD of the whole file, read + execute
  elf.writeUInt32LE(1, 64);
  elf.writeUInt32LE(5, 68);
  elf.writeBigUInt64LE(0n, 72);
  elf.writeBigUInt64LE(BigInt(base), 80);
  elf.writeBigUInt64LE(BigInt(base), 88);
  elf.writeBigUInt64LE(BigInt(size), 96);
  elf.writeBigUInt64LE(BigInt(size), 104);
  elf.writeBigUInt64LE(0x1000n, 112);
  code.copy(elf, headers);
  msg.copy(elf, headers + code.length);
  return elf;
}

export const EXAMPLE_MESSAGE = MESSAGE;

/** Builds the example image into an OCI layout at `out` (replacing it); returns the manifest digest. */
export async function makeExample(out: string, store: Store): Promise<string> {
  const layer = await buildLayer(
    [{ type: 'file', path: '/hello', mode: 0o755, source: { kind: 'bytes', bytes: helloElf(MESSAGE) } }],
    { store, sourceDateEpoch: 0 },
  );
  let image = emptyImage({ os: 'linux', architecture: 'amd64' });
  image = setImageConfig(image, { created: '1970-01-01T00:00:00Z' });
  image = appendLayers(image, { layer, history: { created_by: 'scripts/make-example.ts: /hello' } });
  image = setContainerConfig(image, { Entrypoint: ['/hello'], User: '65532:65532' });
  await rm(out, { recursive: true, force: true });
  await writeLayoutDir(out, 'latest', image);
  return image.manifest.digest;
}

if (process.argv[1]?.endsWith('make-example.ts')) {
  const out = join(new URL('..', import.meta.url).pathname, 'examples/hello-image');
  const digest = await makeExample(out, new Store(Store.defaultRoot()));
  process.stdout.write(`${out}: ${digest}\n`);
}
