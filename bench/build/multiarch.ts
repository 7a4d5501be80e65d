import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { machine, median, writeBenchBlock } from '../lib.js';
import {
  DOCKER,
  dockerBuild,
  dockerCheck,
  ensureBuilder,
  ensureRuntime,
  hasCommand,
  isRoot,
  type PeerTime,
  removeImage,
  writeDockerfile,
} from './multiarch-docker.js';

/**
 * `npm run bench:multiarch` (issue 20): the suite's sqlite app (better-sqlite3, compiled at
 * install) built for linux/amd64 and linux/arm64, cold and warm, by distill in one command and by
 * its peer, `docker build --platform` of the classic multi-stage Dockerfile once per platform
 * (multiarch-docker.ts: the arm64 build runs npm, node-gyp and gcc under QEMU).
 * - distill: each platform's share of its build is read from its progress lines (platforms are
 *   built one after the other; `ARCH: Node ...` starts each). Its arm64 addon takes the
 *   cross-compiled route (crossbuild-essential-arm64), with its install scripts on the arm64 Node
 *   under qemu-user.
 * - cold: distill with an empty DISTILL_CACHE; docker with `--no-cache` (its base images local).
 *   The shared BuildKit cache is not pruned (other builds on this machine use it); `--no-cache`
 *   makes every step of this build run again, which is what pruning would do to it.
 * - warm: one line of server.js changed (`// build-marker: N`), same caches.
 * Needs root, debootstrap, the Docker engine, qemu-user-static with binfmt_misc's qemu-aarch64
 * enabled, and crossbuild-essential-arm64. RUNS (default 1) rounds; writes the `bench:multiarch`
 * block of docs/BENCHMARKS.md.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'bin', 'distill.js');
const RUNS = Number(process.env.RUNS ?? 1);
const ARCHS = ['amd64', 'arm64'] as const;
const APP = join(ROOT, 'test', 'fixtures', 'apps', 'native-sqlite');

interface Run {
  wall: number;
  perArch: Record<string, number>;
}

function distill(args: string[], cache: string): string {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DISTILL_CACHE: cache },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`distill ${args[0]} failed (${r.status}):\n${r.stderr.slice(-3000)}`);
  return r.stdout + r.stderr;
}

function build(app: string, cache: string, out: string): Run {
  const t0 = performance.now();
  const text = distill(
    ['build', app, '--platform', 'linux/amd64,linux/arm64', '-o', `oci:${out}:bench`],
    cache,
  );
  const wall = (performance.now() - t0) / 1000;
  // "distill: arm64: Node 24.22.3 (612.4s)": where each platform's part starts.
  const starts = [...text.matchAll(/^distill: (amd64|arm64): Node \S+ \(([\d.]+)s\)$/gm)].map(
    (m) => [m[1]!, Number(m[2])] as const,
  );
  const total = [...text.matchAll(/\(([\d.]+)s\)$/gm)].map((m) => Number(m[1])).pop() ?? wall;
  const perArch: Record<string, number> = {};
  starts.forEach(([arch, at], i) => {
    perArch[arch] = (starts[i + 1]?.[1] ?? total) - at;
  });
  return { wall, perArch };
}

/** A new commit: the build-marker line of server.js, new every time. */
function bump(app: string): void {
  const file = join(app, 'server.js');
  const text = readFileSync(file, 'utf8').replace(/\n\/\/ build-marker: \d+\n$/, '\n');
  writeFileSync(file, `${text}// build-marker: ${process.hrtime.bigint()}\n`);
}

function preflight(): void {
  const missing = [
    !isRoot() && 'root (debootstrap and binfmt_misc)',
    !hasCommand('debootstrap') && 'debootstrap (apt-get install debootstrap)',
    !hasCommand('aarch64-linux-gnu-gcc') &&
      'aarch64-linux-gnu-gcc (apt-get install crossbuild-essential-arm64)',
    !existsSync(DOCKER) && `${DOCKER} (apt-get install docker.io)`,
    !existsSync('/proc/sys/fs/binfmt_misc/qemu-aarch64') &&
      'binfmt_misc qemu-aarch64 (apt-get install qemu-user-static binfmt-support; update-binfmts --enable qemu-aarch64)',
  ].filter(Boolean);
  if (missing.length > 0) throw new Error(`bench:multiarch needs ${missing.join(', ')}`);
}

/** A peer step's time; a step missing was not started: the one before it hit the deadline. */
type Time = PeerTime | undefined;

interface Peer {
  cold: Record<string, Time>;
  warm: Record<string, Time>;
}

/** Seconds left until PEER_DEADLINE (an ISO time), or 0 for no deadline. */
function secondsLeft(): number {
  const at = process.env.PEER_DEADLINE;
  if (at === undefined || at === '') return 0;
  const left = (Date.parse(at) - Date.now()) / 1000;
  if (Number.isNaN(left)) throw new Error(`PEER_DEADLINE=${at} is not a date (e.g. 2026-12-07T22:40:00Z)`);
  return Math.max(1, left);
}

/** A peer time as the block shows it: a stopped step as a lower bound, a step not run as such. */
function shown(t: Time): string {
  if (t === undefined) return 'not run (deadline)';
  return t.finished ? `${t.seconds.toFixed(1)} s` : `> ${t.seconds.toFixed(0)} s (stopped at the deadline)`;
}

/**
 * docker, one platform after the other, each cold then warm: amd64 first, so that when the arm64
 * build under emulation cannot end before PEER_DEADLINE the native figures are still whole.
 */
function peerRound(
  app: string,
  images: Record<string, { builder: string; runtime: string }>,
  tag: string,
): Peer {
  const cold: Record<string, Time> = {};
  const warm: Record<string, Time> = {};
  for (const arch of ARCHS) {
    const dir = `${app}-docker-${arch}`;
    cpSync(app, dir, { recursive: true });
    writeDockerfile(dir, images[arch]!.builder, images[arch]!.runtime, 'server.js');
    cold[arch] = dockerBuild(dir, arch, `${tag}-${arch}`, true, secondsLeft());
    console.log(`docker ${arch} cold ${shown(cold[arch])}`);
    if (!cold[arch]!.finished) break;
    bump(dir);
    warm[arch] = dockerBuild(dir, arch, `${tag}-${arch}`, false, secondsLeft());
    console.log(`docker ${arch} warm ${shown(warm[arch])}`);
    if (!warm[arch]!.finished) break;
  }
  return { cold, warm };
}

function main(): void {
  preflight();
  const scratch = mkdtempSync(join(tmpdir(), 'distill-bench-multiarch-'));
  const tag = `distill-bench-multiarch/app:${process.pid}`;
  const cold: Run[] = [];
  const warm: Run[] = [];
  const peers: Peer[] = [];
  const load: number[] = [];
  let check = '';
  try {
    const plan = JSON.parse(
      distill(['build', APP, '--plan', '--format', 'json', '-q'], join(scratch, 'plan-cache')),
    ) as {
      node: { version: string };
      packageManager: { version: string };
    };
    const images: Record<string, { builder: string; runtime: string }> = {};
    for (const arch of ARCHS) {
      images[arch] = {
        builder: ensureBuilder(arch, plan.node.version, plan.packageManager.version, scratch),
        runtime: ensureRuntime(arch, plan.node.version, BIN, scratch),
      };
    }
    for (let i = 0; i < RUNS; i++) {
      const app = join(scratch, `app-${i}`);
      cpSync(APP, app, { recursive: true });
      // distill first: its figures do not wait on the emulated docker build, which may be stopped.
      load.push(loadavg()[0]!);
      cold.push(build(app, join(scratch, `cache-${i}`), join(scratch, `out-${i}`)));
      bump(app);
      warm.push(build(app, join(scratch, `cache-${i}`), join(scratch, `out-${i}`)));
      console.log(
        `round ${i + 1}: distill cold ${cold[i]!.wall.toFixed(1)} s, warm ${warm[i]!.wall.toFixed(1)} s`,
      );
      load.push(loadavg()[0]!);
      const peer = peerRound(app, images, tag);
      peers.push(peer);
      if (i === 0 && peer.cold.arm64?.finished === true) check = dockerCheck(`${tag}-arm64`, 'arm64');
      load.push(loadavg()[0]!);
    }
  } finally {
    for (const arch of ARCHS) removeImage(`${tag}-${arch}`);
    rmSync(scratch, { recursive: true, force: true });
  }
  report(cold, warm, peers, load, check);
}

function report(cold: Run[], warm: Run[], peers: Peer[], load: number[], check: string): void {
  const s = (xs: number[]) => `${median(xs).toFixed(1)} s`;
  const part = (runs: Run[], a: string) => s(runs.map((r) => r.perArch[a] ?? Number.NaN));
  // The peer's cells are the first round's when any of its steps stopped at the deadline.
  const whole = peers.every((p) => ARCHS.every((a) => p.cold[a]?.finished && p.warm[a]?.finished));
  const docker = (k: 'cold' | 'warm', a: string) =>
    whole ? s(peers.map((p) => p[k][a]!.seconds)) : shown(peers[0]?.[k][a]);
  const sum = (k: 'cold' | 'warm') =>
    peers.map((p) => ARCHS.reduce((t, a) => t + (p[k][a]?.seconds ?? 0), 0));
  const dockerSum = (k: 'cold' | 'warm') => (whole ? s(sum(k)) : `> ${sum(k)[0]!.toFixed(0)} s`);
  const ratio = (k: 'cold' | 'warm', runs: Run[]) => {
    const r = median(runs.map((x) => x.wall)) / median(sum(k));
    return whole ? `${r.toFixed(2)}x` : `< ${r.toFixed(2)}x`;
  };
  const block = [
    '<!-- bench:multiarch:start -->',
    '### Multi-arch build with a native addon (`npm run bench:multiarch`)',
    '',
    `The sqlite app (better-sqlite3, compiled at install: its prebuilt downloads are unreachable here) for linux/amd64 and linux/arm64; median of ${RUNS} round(s) on ${machine()}, load average ${median(load).toFixed(1)} (${Math.min(...load).toFixed(1)} to ${Math.max(...load).toFixed(1)}; a machine shared with other builds: the compiles compete for its cores).`,
    '',
    '- **distill**: one command for both platforms; arm64 cross-compiled with crossbuild-essential-arm64, install scripts on the arm64 Node under qemu-user.',
    '- **docker**: `docker build --platform linux/ARCH` of the classic multi-stage Dockerfile, once per platform (Docker 20.10 BuildKit; no buildx here); the arm64 build runs npm, node-gyp and gcc under qemu-user through binfmt_misc. Builder: Debian 13 minbase with build-essential and python3 (debootstrap) plus the same official Node and npm; runtime: `distill base nodejs24` for the arch. Both made by the bench (Docker Hub is unreachable). Cold: `--no-cache`.',
    '- warm: one line of server.js changed, same caches.',
    '',
    '| build | distill, both | distill amd64 part | distill arm64 part | docker amd64 | docker arm64 (emulated) | docker, both | distill / docker |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    `| cold | ${s(cold.map((r) => r.wall))} | ${part(cold, 'amd64')} | ${part(cold, 'arm64')} | ${docker('cold', 'amd64')} | ${docker('cold', 'arm64')} | ${dockerSum('cold')} | ${ratio('cold', cold)} |`,
    `| warm | ${s(warm.map((r) => r.wall))} | ${part(warm, 'amd64')} | ${part(warm, 'arm64')} | ${docker('warm', 'amd64')} | ${docker('warm', 'arm64')} | ${dockerSum('warm')} | ${ratio('warm', warm)} |`,
    '',
    check === ''
      ? "docker's arm64 build did not finish before the deadline (PEER_DEADLINE), so its image was not run: a `>` cell is how long that step ran before it was stopped, and `<` the ratio it bounds."
      : `The docker arm64 image, run by the engine under qemu-user, printed \`${check}\` (process.arch, then SQLite's version through the addon).`,
    '<!-- bench:multiarch:end -->',
  ].join('\n');
  writeBenchBlock(ROOT, 'multiarch', block);
  console.log(block);
}

main();
