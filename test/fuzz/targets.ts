import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type fc from 'fast-check';
import { readElf } from '../../src/build/app/elf.js';
import { readDeb } from '../../src/debian/deb.js';
import { parseDeb822, parseDeb822Stream } from '../../src/debian/deb822.js';
import { readApkInstalled, readDpkg } from '../../src/inspect/packages.js';
import { decompressLayer, readLayer, TarReader } from '../../src/layers/read.js';
import { TarFileSource } from '../../src/media/files.js';
import { openArtifact } from '../../src/media/index.js';
import { digestOf } from '../../src/oci/digest.js';
import { type Artifact, parseConfig, parseIndex, parseManifest } from '../../src/oci/image.js';
import { compressedArb } from './arb/compression.js';
import { apkArb, deb822Arb, debArb } from './arb/debian.js';
import { elfArb } from './arb/elf.js';
import { decodeFiles, writeFiles } from './arb/files.js';
import { dockerArchiveArb, layoutArb, ociArchiveArb } from './arb/image.js';
import { ociJsonArb } from './arb/oci-json.js';
import { tarArb } from './arb/tar.js';

/**
 * The fuzz targets: per parser of untrusted bytes, a structure-aware generator of inputs (arb/)
 * and the function an input is fed to. A run ends in a result or a DistillError (not INTERNAL);
 * anything else, or no end within the time bound (pool.ts), is a failure.
 */
export interface FuzzTarget {
  name: string;
  /** What the target exercises, for docs/RELIABILITY.md. */
  what: string;
  arbitrary: fc.Arbitrary<Uint8Array>;
  run(input: Uint8Array): Promise<void>;
}

const chunks = (b: Uint8Array, size: number) => {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += size) out.push(Buffer.from(b.subarray(i, i + size)));
  return Readable.from(out);
};

/** Reads a stream to its end, at most `max` bytes (what callers that read whole streams cap). */
async function drain(s: Readable, max = 64 * 1024 * 1024): Promise<void> {
  let n = 0;
  for await (const c of s) {
    n += (c as Buffer).length;
    if (n > max) break;
  }
  s.destroy();
}

/** Every entry of a tar, bodies read, through both of the reader's paths (readLayer, and next()/head()). */
async function readTar(input: Uint8Array): Promise<void> {
  for await (const { body } of readLayer(chunks(input, 1000), { compression: 'none' })) await drain(body);
  const reader = new TarReader(chunks(input, 512));
  for (
    let h = reader.nextBuffered() ?? (await reader.next());
    h !== null;
    h = reader.nextBuffered() ?? (await reader.next())
  ) {
    reader.peek(100);
    await reader.head(600);
  }
}

async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'distill-fuzz-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Everything a reader of the artifact would touch: config, layers (verified, tars read), children. */
async function exercise(a: Artifact, depth = 0): Promise<void> {
  if (a.kind === 'index') {
    if (depth > 2) return;
    for (const d of a.manifest.value.manifests.slice(0, 4)) await exercise(await a.child(d), depth + 1);
    return;
  }
  for (const layer of a.layers) {
    for await (const { body } of readLayer(await layer.open())) await drain(body);
  }
}

async function openAndExercise(
  transport: 'oci' | 'oci-archive' | 'docker-archive',
  path: string,
): Promise<void> {
  await exercise(await openArtifact({ transport, path } as Parameters<typeof openArtifact>[0]));
}

/** An archive file of `transport`, opened and read through. */
function archiveTarget(
  name: 'oci-archive' | 'docker-archive',
  what: string,
  arbitrary: fc.Arbitrary<Uint8Array>,
): FuzzTarget {
  return {
    name,
    what,
    arbitrary,
    run: (input) =>
      inTempDir(async (dir) => {
        await writeFile(join(dir, 'image.tar'), input);
        await openAndExercise(name, join(dir, 'image.tar'));
      }),
  };
}

export const TARGETS: readonly FuzzTarget[] = [
  {
    name: 'tar',
    what: 'layers/tar-reader.ts: tar headers of every type, size fields, long names, sparse maps, end markers',
    arbitrary: tarArb(),
    run: readTar,
  },
  {
    name: 'pax',
    what: 'layers/tar-header.ts: PAX extended and global headers, record lengths and values',
    arbitrary: tarArb({ paxWeight: 8, maxMembers: 5 }),
    run: readTar,
  },
  {
    name: 'compression',
    what: 'layers/compression.ts: gzip, zstd (fzstd and its frame guard) and xz framing',
    arbitrary: compressedArb,
    run: async (input) => drain(await decompressLayer(chunks(input, 777))),
  },
  {
    name: 'tar-index',
    what: 'media/files.ts: the archive index of a tar file (positional reads, links)',
    arbitrary: tarArb({ mutations: 2 }),
    run: (input) =>
      inTempDir(async (dir) => {
        await writeFile(join(dir, 'a.tar'), input);
        const files = await TarFileSource.open(join(dir, 'a.tar'), 'fuzz archive');
        for (const name of ['a', 'bin', 'usr', 'etc', 'index.json', 'x'.repeat(120)]) {
          if (await files.exists(name)) await drain(await files.open(name));
        }
      }),
  },
  {
    name: 'oci-json',
    what: 'oci/image.ts and oci/validate.ts: image manifests, indexes and configs as JSON',
    arbitrary: ociJsonArb,
    run: async (input) => {
      const bytes = input.subarray(1);
      const kind = (input[0] ?? 0) % 3;
      if (kind === 0) parseManifest(bytes, undefined, 'fuzz manifest');
      else if (kind === 1) parseIndex(bytes, undefined, 'fuzz index');
      else {
        const d = {
          mediaType: 'application/vnd.oci.image.config.v1+json',
          digest: digestOf(bytes),
          size: bytes.length,
        };
        parseConfig(bytes, d, 2, 'fuzz config');
      }
    },
  },
  {
    name: 'oci-layout',
    what: 'media/layout (oci:): a layout directory, blobs verified, layer tars read',
    arbitrary: layoutArb,
    run: (input) =>
      inTempDir(async (dir) => {
        await writeFiles(dir, decodeFiles(input));
        await openAndExercise('oci', dir);
      }),
  },
  archiveTarget('oci-archive', 'media/layout over media/files.ts (oci-archive:)', ociArchiveArb),
  archiveTarget(
    'docker-archive',
    'media/archive (docker-archive:): manifest.json, configs, layer tars',
    dockerArchiveArb,
  ),
  {
    name: 'deb822',
    what: 'debian/deb822.ts: control data, whole and streamed',
    arbitrary: deb822Arb,
    run: async (input) => {
      parseDeb822(input, { maxFieldSize: 4096, maxParagraphSize: 16384 });
      for await (const _ of parseDeb822Stream(chunks(input, 7), { maxFieldSize: 4096 }));
    },
  },
  {
    name: 'deb',
    what: 'debian/ar.ts, deb-tar.ts, deb.ts: .deb packages, every member read and hashed',
    arbitrary: debArb,
    run: async (input) => {
      await readDeb(chunks(input, 999), {
        computeMd5: true,
        maxControlSize: 1 << 20,
        onDataEntry: (_e, body) => drain(body),
      });
    },
  },
  {
    name: 'elf',
    what: 'build/app/elf.ts: ELF headers, program headers, dynamic section, version needs',
    arbitrary: elfArb,
    run: async (input) => {
      await readElf(Buffer.from(input), 'fuzz.node');
    },
  },
  {
    name: 'dpkg-status',
    what: 'inspect/packages.ts: dpkg status files (never throws on content)',
    arbitrary: deb822Arb,
    run: async (input) => {
      await readDpkg(chunks(input, 100), 'status', 'required');
    },
  },
  {
    name: 'apk-installed',
    what: 'inspect/packages.ts: apk installed databases (never throws on content)',
    arbitrary: apkArb,
    run: async (input) => {
      await readApkInstalled(chunks(input, 100), 'installed');
    },
  },
];

export function targetNamed(name: string): FuzzTarget {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`no fuzz target ${name}; they are ${TARGETS.map((x) => x.name).join(', ')}`);
  return t;
}
