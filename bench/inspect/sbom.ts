/**
 * bench/inspect/sbom.ts: `distill sbom` of the near-the-cap inspect image (bench/inspect's `cap`:
 * four layers of node_modules, ~950,000 small files, ~33,600 npm packages) beside `distill inspect`
 * of the same image, in the same run. Issue 16's targets: the SBOM in under 1.5x the inspect time,
 * peak RSS under 200 MB (/usr/bin/time %M).
 *
 * Both run from dist/ (npm run build first) as their own processes, writing to a file; they
 * alternate, RUNS times each after one untimed warm-up (which also checks the SBOM's count of
 * npm packages against inspect's). Results replace the bench:sbom block of docs/BENCHMARKS.md.
 *
 *   npm run bench:sbom          # RUNS=3 FORMATS="spdx-json cyclonedx-json" BENCH_DIR=DIR (reuse the image)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { tempDir } from '../../test/helpers/components.js';
import { type Measured, machine, median, timeCommand, writeBenchBlock } from '../lib.js';
import { makeImage } from './run.js';

const RUNS = Number(process.env.RUNS ?? 3);
const FORMATS = (process.env.FORMATS ?? 'spdx-json cyclonedx-json').split(/\s+/).filter(Boolean);
const root = new URL('../..', import.meta.url).pathname;
const BIN = join(root, 'bin/distill.js');
const env = { DISTILL_USE_DIST: '1' };

function run(args: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  if (r.status !== 0)
    throw new Error(`distill ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}

interface Row {
  format: string;
  sbom: Measured[];
  inspect: Measured[];
  components: number;
  bytes: number;
}

async function main(): Promise<void> {
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const load = loadavg().map((x) => x.toFixed(1));
  const keep = process.env.BENCH_DIR;
  const work = keep ?? (await tempDir('distill-bench-sbom-'));
  await mkdir(work, { recursive: true });
  const rows: Row[] = [];
  let paths = 0;
  try {
    process.stderr.write('bench/sbom: making the near-the-cap image\n');
    const image = await makeImage(join(work, 'img-cap'), 'cap');
    const ref = `oci:${image.layout}:bench`;
    const factsFile = join(work, 'inspect.json');
    const inspectArgs = ['inspect', ref, '--format', 'json', '-o', factsFile];
    run(inspectArgs);
    const facts = JSON.parse(await readFile(factsFile, 'utf8')) as {
      packages: { type: string }[];
      layers: { entries: number }[];
    };
    const npm = facts.packages.filter((p) => p.type === 'npm').length;
    paths = facts.layers.reduce((s, l) => s + l.entries, 0);
    for (const format of FORMATS) {
      const out = join(work, `sbom.${format}`);
      const sbomArgs = ['sbom', ref, '--format', format, '-o', out];
      run(sbomArgs); // warm-up, and a check that the SBOM lists what inspect found
      const text = await readFile(out, 'utf8');
      const doc = JSON.parse(text) as { packages?: unknown[]; components?: unknown[] };
      const components = (doc.packages ?? doc.components ?? []).length;
      if (components < npm)
        throw new Error(`the ${format} SBOM lists ${components} components, inspect ${npm} npm packages`);
      const row: Row = { format, sbom: [], inspect: [], components, bytes: Buffer.byteLength(text) };
      for (let i = 0; i < RUNS; i++) {
        row.inspect.push(timeCommand(process.execPath, [BIN, ...inspectArgs], env));
        row.sbom.push(timeCommand(process.execPath, [BIN, ...sbomArgs], env));
        const [a, b] = [row.inspect.at(-1)!, row.sbom.at(-1)!];
        process.stderr.write(
          `bench/sbom ${format} run ${i + 1}: inspect ${a.elapsed.toFixed(2)}s ${(a.rssKb / 1024).toFixed(0)} MB, sbom ${b.elapsed.toFixed(2)}s ${(b.rssKb / 1024).toFixed(0)} MB\n`,
        );
      }
      rows.push(row);
    }
  } finally {
    if (!keep) await rm(work, { recursive: true, force: true });
  }
  const block = report(rows, paths, load);
  writeBenchBlock(root, 'sbom', block);
  process.stdout.write(`${block}\n`);
}

function report(rows: Row[], paths: number, load: string[]): string {
  const s = (ms: Measured[]) => ms.map((m) => m.elapsed);
  const cell = (xs: number[]) =>
    `${median(xs).toFixed(2)} [${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}]`;
  const mb = (ms: Measured[]) => Math.max(...ms.map((m) => m.rssKb)) / 1024;
  const lines = [
    '<!-- bench:sbom:start -->',
    '## bench/inspect/sbom: `distill sbom` beside `distill inspect` of the near-the-cap image',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}, a machine shared with other sessions (load average ${load.join(', ')} at the start). ` +
      `The image is bench/inspect's near-the-cap one (four gzip layers of node_modules, ${paths} layer entries). ` +
      `Both commands run from dist/ as their own processes and write a file (\`-o\`); they alternate, ${RUNS} runs each after a warm-up. ` +
      'Wall seconds, median [min-max]; the ratio is of the medians; peak RSS is the largest of the runs (/usr/bin/time %M). Targets: under 1.5x, under 200 MB.',
    '',
    '| format | components | document MB | inspect s | sbom s | sbom / inspect | inspect peak RSS MB | sbom peak RSS MB |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const verdicts: string[] = [];
  for (const r of rows) {
    const ratio = median(s(r.sbom)) / median(s(r.inspect));
    lines.push(
      `| ${r.format} | ${r.components} | ${(r.bytes / 1e6).toFixed(1)} | ${cell(s(r.inspect))} | ${cell(s(r.sbom))} | ${ratio.toFixed(2)} | ${mb(r.inspect).toFixed(0)} | ${mb(r.sbom).toFixed(0)} |`,
    );
    const ok = ratio < 1.5 && mb(r.sbom) < 200;
    verdicts.push(
      `- ${r.format}: ${ratio.toFixed(2)}x the inspect time, ${mb(r.sbom).toFixed(0)} MB peak: ${ok ? 'within both targets' : 'NOT within the targets'}`,
    );
  }
  lines.push('', ...verdicts, '<!-- bench:sbom:end -->');
  return lines.join('\n');
}

await main();
