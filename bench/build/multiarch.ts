import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machine, median, writeBenchBlock } from '../lib.js';

/**
 * `npm run bench:multiarch` (issue 20): the suite's sqlite app (better-sqlite3, compiled at
 * install) built for linux/amd64,linux/arm64 in one command, cold (an empty DISTILL_CACHE) and
 * warm (the same cache again), with each platform's share of the cold build read from distill's
 * own progress lines (platforms are built one after the other; `ARCH: Node ...` starts each).
 * The arm64 addon takes the cross-compiled route (crossbuild-essential-arm64), with its install
 * scripts on the arm64 Node under qemu-user when binfmt_misc has qemu-aarch64 enabled.
 * No peer runs beside it: docker buildx-style emulation needs a node:arm64 image from Docker Hub
 * (unreachable here), and distill's emulated-only route cannot compile (it refuses host code).
 * RUNS (default 1) rounds; writes the `bench:multiarch` block of docs/BENCHMARKS.md.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'distill.js');
const RUNS = Number(process.env.RUNS ?? 1);

interface Run {
  wall: number;
  perArch: Record<string, number>;
}

function build(app: string, cache: string, out: string): Run {
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [BIN, 'build', app, '--platform', 'linux/amd64,linux/arm64', '-o', `oci:${out}:bench`],
    { encoding: 'utf8', env: { ...process.env, DISTILL_CACHE: cache }, maxBuffer: 64 * 1024 * 1024 },
  );
  const wall = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`distill build failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  // "distill: arm64: Node 24.22.3 (612.4s)": where each platform's part starts.
  const starts = [...r.stderr.matchAll(/^distill: (amd64|arm64): Node \S+ \(([\d.]+)s\)$/gm)].map(
    (m) => [m[1]!, Number(m[2])] as const,
  );
  const total = [...r.stderr.matchAll(/\(([\d.]+)s\)$/gm)].map((m) => Number(m[1])).pop() ?? wall;
  const perArch: Record<string, number> = {};
  starts.forEach(([arch, at], i) => {
    perArch[arch] = (starts[i + 1]?.[1] ?? total) - at;
  });
  return { wall, perArch };
}

function main(): void {
  const cold: Run[] = [];
  const warm: Run[] = [];
  const load: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'distill-bench-multiarch-'));
    try {
      const app = join(dir, 'app');
      cpSync(join(ROOT, 'test', 'fixtures', 'apps', 'native-sqlite'), app, { recursive: true });
      load.push(loadavg()[0]!);
      cold.push(build(app, join(dir, 'cache'), join(dir, 'out')));
      warm.push(build(app, join(dir, 'cache'), join(dir, 'out')));
      load.push(loadavg()[0]!);
      console.log(`round ${i + 1}: cold ${cold[i]!.wall.toFixed(1)} s, warm ${warm[i]!.wall.toFixed(1)} s`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  const s = (xs: number[]) => `${median(xs).toFixed(1)} s`;
  const arch = (runs: Run[], a: string) => s(runs.map((r) => r.perArch[a] ?? Number.NaN));
  const block = [
    '<!-- bench:multiarch:start -->',
    '### Multi-arch build with a native addon (`npm run bench:multiarch`)',
    '',
    `The sqlite app (better-sqlite3 compiled at install) for linux/amd64,linux/arm64 in one command; median of ${RUNS} round(s) on ${machine()}, load average ${median(load).toFixed(1)} (a machine shared with other builds: the compiles compete for its cores). arm64: cross-compiled with crossbuild-essential-arm64, install scripts on the arm64 Node under qemu-user.`,
    '',
    '| build | total | amd64 part | arm64 part |',
    '| --- | --- | --- | --- |',
    `| cold (empty cache) | ${s(cold.map((r) => r.wall))} | ${arch(cold, 'amd64')} | ${arch(cold, 'arm64')} |`,
    `| warm (same cache) | ${s(warm.map((r) => r.wall))} | ${arch(warm, 'amd64')} | ${arch(warm, 'arm64')} |`,
    '',
    'No peer ran beside it: docker buildx-style emulation needs a node image for arm64 from Docker Hub, which this machine cannot reach, and distill without a cross toolchain cannot compile for arm64 (docs/MULTI-ARCH.md).',
    '<!-- bench:multiarch:end -->',
  ].join('\n');
  writeBenchBlock(ROOT, 'multiarch', block);
  console.log(block);
}

main();
