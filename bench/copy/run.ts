/**
 * bench/copy: distill copy beside skopeo copy in the same run, on multi-layer images of several
 * sizes (the largest at least 300 MB): oci: -> registry (push into a fresh repository) and
 * registry -> oci: (pull into a fresh directory). Wall time and peak RSS, median of RUNS.
 * Results go to docs/BENCHMARKS.md (the section between the copy markers is replaced).
 *
 *   npm run build && node --import tsx bench/copy/run.ts   (RUNS=3 SIZES_MB=150,300,600)
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import { Digester } from '../../src/oci/digest.js';
import { assembleImage, rawJsonFromValue } from '../../src/oci/image.js';
import { MediaType } from '../../src/oci/mediatypes.js';
import type { Descriptor, ImageConfigJson } from '../../src/oci/types.js';
import { startRegistry, tempDir } from '../../test/helpers/components.js';
import { type Measured, machine, median, timeCommand, writeBenchBlock } from '../lib.js';

const RUNS = Number(process.env.RUNS ?? 3);
const SIZES = (process.env.SIZES_MB ?? '150,300,600').split(',').map(Number);
const LAYER_MB = 50;
const root = new URL('../..', import.meta.url).pathname;
const DISTILL = join(root, 'dist/cli/main.js');

/** A layer of incompressible pseudo-random bytes, generated as a stream (never whole in memory). */
function layerStream(size: number, seed: number): () => Readable {
  return () =>
    Readable.from(
      (function* () {
        let x = seed | 1;
        const chunk = 1 << 20;
        for (let off = 0; off < size; off += chunk) {
          const n = Math.min(chunk, size - off);
          const b = Buffer.allocUnsafe(n);
          for (let i = 0; i + 4 <= n; i += 4) {
            x ^= x << 13;
            x ^= x >>> 17;
            x ^= x << 5;
            b.writeInt32LE(x, i);
          }
          yield b;
        }
      })(),
    );
}

export async function makeLayout(dir: string, totalMb: number): Promise<void> {
  const n = Math.max(1, Math.round(totalMb / LAYER_MB));
  const layers: (Descriptor & { open: () => Readable })[] = [];
  for (let i = 0; i < n; i++) {
    const open = layerStream(LAYER_MB * 2 ** 20, 1000 * totalMb + i);
    const d = new Digester();
    for await (const c of open()) d.update(c as Buffer);
    layers.push({ mediaType: MediaType.OciLayer, digest: d.digest(), size: d.size, open });
  }
  const config: ImageConfigJson = {
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  };
  const configRaw = rawJsonFromValue(config, MediaType.OciConfig);
  const manifest = rawJsonFromValue(
    {
      schemaVersion: 2 as const,
      mediaType: MediaType.OciManifest,
      config: { mediaType: MediaType.OciConfig, digest: configRaw.digest, size: configRaw.bytes.length },
      layers: layers.map(({ open: _o, ...d }) => d),
    },
    MediaType.OciManifest,
  );
  const byDigest = new Map(layers.map((l) => [l.digest, l.open]));
  await writeLayoutDir(
    dir,
    'bench',
    assembleImage(manifest, configRaw, async (d) => byDigest.get(d.digest)!()),
  );
}

interface Row {
  sizeMb: number;
  layers: number;
  tool: string;
  direction: string;
  wall: number[];
  rss: number[];
}

async function main(): Promise<void> {
  if (!existsSync(DISTILL)) execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  const work = await tempDir('distill-bench-copy-');
  const rows: Row[] = [];
  try {
    for (const sizeMb of SIZES) {
      const layout = join(work, `img-${sizeMb}`);
      process.stderr.write(`making a ${sizeMb} MB layout\n`);
      await makeLayout(layout, sizeMb);
      const tools: Record<
        string,
        { push: (r: string) => [string, string[]]; pull: (r: string, d: string) => [string, string[]] }
      > = {
        distill: {
          push: (r) => [process.execPath, [DISTILL, 'copy', '-q', `oci:${layout}:bench`, `docker://${r}`]],
          pull: (r, d) => [process.execPath, [DISTILL, 'copy', '-q', `docker://${r}`, `oci:${d}:bench`]],
        },
        skopeo: {
          push: (r) => [
            'skopeo',
            ['copy', '-q', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${r}`],
          ],
          pull: (r, d) => [
            'skopeo',
            ['copy', '-q', '--src-tls-verify=false', `docker://${r}`, `oci:${d}:bench`],
          ],
        },
      };
      for (const [tool, t] of Object.entries(tools)) {
        const push: Row = {
          sizeMb,
          layers: sizeMb / LAYER_MB,
          tool,
          direction: 'oci: -> registry',
          wall: [],
          rss: [],
        };
        const pull: Row = {
          sizeMb,
          layers: sizeMb / LAYER_MB,
          tool,
          direction: 'registry -> oci:',
          wall: [],
          rss: [],
        };
        for (let i = 0; i < RUNS; i++) {
          // A fresh, empty registry every run: both tools push every byte (skopeo would otherwise
          // mount blobs it remembers from an earlier run's repository).
          const registry = await startRegistry();
          const ref = `${registry.host}/bench/app:bench`;
          const [c1, a1] = t.push(ref);
          const m1: Measured = timeCommand(c1, a1, { DISTILL_CACHE: join(work, 'cache') });
          push.wall.push(m1.wall);
          push.rss.push(m1.rssKb);
          const dest = join(work, `pull-${tool}-${i}`);
          const [c2, a2] = t.pull(ref, dest);
          const m2 = timeCommand(c2, a2, { DISTILL_CACHE: join(work, 'cache') });
          pull.wall.push(m2.wall);
          pull.rss.push(m2.rssKb);
          await rm(dest, { recursive: true, force: true });
          await registry.stop();
          process.stderr.write(
            `${sizeMb} MB ${tool}: push ${m1.wall}s ${m1.rssKb} KB, pull ${m2.wall}s ${m2.rssKb} KB\n`,
          );
        }
        rows.push(push, pull);
      }
      await rm(layout, { recursive: true, force: true });
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  await report(rows);
}

async function report(rows: Row[]): Promise<void> {
  const skopeoVersion = execFileSync('skopeo', ['--version'], { encoding: 'utf8' }).trim();
  const lines: string[] = [];
  lines.push('<!-- bench:copy:start -->');
  lines.push('## bench/copy: `distill copy` beside `skopeo copy`');
  lines.push('');
  lines.push(
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}; ${skopeoVersion}; Debian docker-registry on 127.0.0.1; ` +
      `layers of ${LAYER_MB} MiB of incompressible bytes; median of ${RUNS} runs (min-max in brackets). ` +
      'Every run starts an empty registry (so nothing is skipped or mounted) and pulls into a fresh directory. Peak RSS is of the whole process.',
  );
  lines.push('');
  lines.push(
    '| image | direction | distill wall s | skopeo wall s | ratio | distill peak RSS MB | skopeo peak RSS MB |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|');
  const fmt = (xs: number[]) =>
    `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`;
  for (const r of rows.filter((x) => x.tool === 'distill')) {
    const s = rows.find((x) => x.tool === 'skopeo' && x.sizeMb === r.sizeMb && x.direction === r.direction)!;
    lines.push(
      `| ${r.sizeMb} MiB, ${r.layers} layers | ${r.direction} | ${fmt(r.wall)} | ${fmt(s.wall)} | ${(median(r.wall) / median(s.wall)).toFixed(2)} | ${(median(r.rss) / 1024).toFixed(0)} | ${(median(s.rss) / 1024).toFixed(0)} |`,
    );
  }
  lines.push('');
  lines.push(
    "Targets (issue 3): wall time no more than skopeo's, peak RSS under 200 MB and flat as layers grow.",
  );
  lines.push('<!-- bench:copy:end -->');
  const block = lines.join('\n');
  writeBenchBlock(root, 'copy', block);
  process.stdout.write(`${block}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
