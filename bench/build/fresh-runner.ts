/**
 * bench/build/fresh-runner.ts: a CI job on a fresh runner (issue 18). The shared peers
 * harness's hello and medium apps (../shared/peers, or PEERS_DIR), one line of index.js changed
 * before every build, as a new commit would; a docker-registry of this run's own on a free port
 * holds the caches and receives every image. Per app and round, in alternating order:
 *
 *   docker-fresh:  `docker build` of the harness's multi-stage Dockerfile (BuildKit,
 *                  DOCKER_BUILDKIT=1) with `--cache-from` the image an earlier build pushed with
 *                  its inline cache (`--build-arg BUILDKIT_INLINE_CACHE=1`), on an engine whose
 *                  build cache was pruned (`docker builder prune -af`) and without this bench's
 *                  images; then `docker push` to the registry. The base images (local/node:24,
 *                  local/distroless-nodejs24, made by the harness's 10-base-images.sh) stay in
 *                  the engine: they cannot be pulled here;
 *   distill-fresh: the installed distill (npm pack, npm install -g) with an empty DISTILL_CACHE
 *                  and `--cache docker://REG/...`, filled by one untimed build before the rounds,
 *                  pushing to the same registry;
 *   distill-cold:  the same with an empty DISTILL_CACHE and no cache: the Debian packages, the
 *                  Node release and every npm package downloaded.
 *
 *   npm run bench:fresh-runner                  # RUNS=3 APP_LIST="hello medium"
 *   KEEP=1 npm run bench:fresh-runner           # keep the scratch directory
 *
 * Writes the bench:fresh-runner block of docs/BENCHMARKS.md. Removes the images it made (by
 * tag and by id) and nothing else; `docker builder prune -af` empties the engine's build cache,
 * which is what a fresh runner starts with.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machine, median, packAndInstall, timeCommand, writeBenchBlock } from '../lib.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const peers = process.env.PEERS_DIR ?? join(root, '..', 'shared', 'peers');
const RUNS = Number(process.env.RUNS ?? '3');
const APPS = (process.env.APP_LIST ?? 'hello medium').split(/\s+/).filter(Boolean);
/** The harness's Node and base images (its lib.sh). */
const NODE = process.env.NODE_VERSION ?? '24.21.0';
const BUILDER_IMAGE = process.env.BUILDER_IMAGE ?? 'local/node:24';
const RUNTIME_IMAGE = process.env.RUNTIME_IMAGE ?? 'local/distroless-nodejs24:latest';
const DOCKER = '/usr/bin/docker';
const CASES = ['docker-fresh', 'distill-fresh', 'distill-cold'] as const;
type CaseName = (typeof CASES)[number];

function docker(args: string[], opts: { quiet?: boolean } = {}): string {
  process.stderr.write(`bench/fresh-runner: docker ${args.join(' ')}\n`);
  return execFileSync(DOCKER, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', opts.quiet ? 'ignore' : 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no free port');
  return address.port;
}

/** docker-registry on a free loopback port, storage under `dir` (docker treats loopback as insecure). */
async function startRegistry(dir: string): Promise<{ host: string; proc: ChildProcess }> {
  const host = `127.0.0.1:${await freePort()}`;
  const config = join(dir, 'registry.yml');
  const lines = ['version: 0.1', 'log:', '  level: error', '  accesslog:', '    disabled: true'];
  lines.push('storage:', '  filesystem:', `    rootdirectory: ${join(dir, 'registry')}`);
  writeFileSync(config, [...lines, 'http:', `  addr: ${host}`, ''].join('\n'));
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  for (let i = 0; i < 150; i++) {
    const up = await fetch(`http://${host}/v2/`).then(
      (r) => r.ok,
      () => false,
    );
    if (up) return { host, proc };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`docker-registry did not answer on ${host}`);
}

/** The harness's app with its Dockerfile (base images filled in) and .dockerignore. */
function prepareApp(app: string, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json', 'index.js']) {
    cpSync(join(peers, 'apps', app, f), join(dir, f));
  }
  const dockerfile = readFileSync(join(peers, 'Dockerfile.in'), 'utf8')
    .replaceAll('@BUILDER_IMAGE@', BUILDER_IMAGE)
    .replaceAll('@RUNTIME_IMAGE@', RUNTIME_IMAGE);
  writeFileSync(join(dir, 'Dockerfile'), dockerfile);
  writeFileSync(join(dir, '.dockerignore'), 'node_modules\nDockerfile\n.dockerignore\n');
}

/** A new commit: one line of index.js changed (its build-marker comment, else one appended). */
function bump(dir: string): void {
  const file = join(dir, 'index.js');
  const text = readFileSync(file, 'utf8');
  const marker = `// build-marker: ${process.hrtime.bigint()}`;
  const re = /^\/\/ build-marker: \d*$/m;
  writeFileSync(file, re.test(text) ? text.replace(re, marker) : `${text}${marker}\n`);
}

interface Bench {
  scratch: string;
  reg: string;
  distill: string;
  /** Every image id this bench's builds made, removed at the end. */
  made: Set<string>;
}

/** Tags this bench gives an app's docker images (in its own registry: unique by port). */
const dockerRef = (b: Bench, app: string, tag: string) => `${b.reg}/fresh-runner/docker-${app}:${tag}`;

/** `docker build` of `dir` tagged `ref` (inline cache, optionally from `from`), then pushed. */
function dockerBuildPush(dir: string, ref: string, from?: string): string[] {
  const build = [
    'cd',
    JSON.stringify(dir),
    '&&',
    'DOCKER_BUILDKIT=1',
    DOCKER,
    'build',
    '--network',
    'host',
    '-q',
    '--build-arg',
    'BUILDKIT_INLINE_CACHE=1',
    ...(from ? ['--cache-from', from] : []),
    '-t',
    ref,
    '.',
  ];
  return ['-c', `${build.join(' ')} >/dev/null && ${DOCKER} push -q ${ref} >/dev/null`];
}

/** Removes this bench's images of `app` from the engine (noting their ids). */
function removeImages(b: Bench, app: string): void {
  for (const tag of ['cache', 'run']) {
    const ref = dockerRef(b, app, tag);
    try {
      b.made.add(docker(['image', 'inspect', '--format', '{{.Id}}', ref], { quiet: true }).trim());
      docker(['image', 'rm', ref], { quiet: true });
    } catch {
      // not there
    }
  }
}

/** Forgets what a fresh runner would not have: this bench's images and the engine's build cache. */
function freshEngine(b: Bench, app: string): void {
  removeImages(b, app);
  docker(['builder', 'prune', '-af'], { quiet: true });
}

function distillArgs(b: Bench, dir: string, extra: string[]): string[] {
  return [b.distill, 'build', dir, '-q', '--node', NODE, ...extra];
}

/** One timed run of a case (its preparation untimed): wall seconds. */
function runCase(b: Bench, name: CaseName, app: string, round: number): number {
  const dir = join(b.scratch, 'apps', app);
  bump(dir);
  const cacheRef = `docker://${b.reg}/fresh-runner/cache-${app}`;
  const out = (tag: string) => `docker://${b.reg}/fresh-runner/distill-${app}:${tag}`;
  const emptyCache = () => {
    const c = join(b.scratch, 'caches', `${name}-${app}-${round}`);
    rmSync(c, { recursive: true, force: true });
    return c;
  };
  if (name === 'docker-fresh') {
    freshEngine(b, app);
    const cmd = dockerBuildPush(dir, dockerRef(b, app, 'run'), dockerRef(b, app, 'cache'));
    return timeCommand('bash', cmd).elapsed;
  }
  const extra = name === 'distill-fresh' ? ['--cache', cacheRef, '-o', out('run')] : ['-o', out('cold')];
  const cache = emptyCache();
  const t = timeCommand(process.execPath, distillArgs(b, dir, extra), { DISTILL_CACHE: cache }).elapsed;
  rmSync(cache, { recursive: true, force: true });
  return t;
}

/** The caches a fresh runner finds: docker's image with inline cache, distill's entries. */
function seed(b: Bench, app: string): void {
  const dir = join(b.scratch, 'apps', app);
  prepareApp(app, dir);
  timeCommand('bash', dockerBuildPush(dir, dockerRef(b, app, 'cache')));
  b.made.add(docker(['image', 'inspect', '--format', '{{.Id}}', dockerRef(b, app, 'cache')]).trim());
  const cache = join(b.scratch, 'caches', `seed-${app}`);
  const cacheRef = `docker://${b.reg}/fresh-runner/cache-${app}`;
  const out = `docker://${b.reg}/fresh-runner/distill-${app}:seed`;
  timeCommand(process.execPath, distillArgs(b, dir, ['--cache', cacheRef, '-o', out]), {
    DISTILL_CACHE: cache,
  });
  rmSync(cache, { recursive: true, force: true });
}

type Walls = Record<CaseName, number[]>;

function report(results: Map<string, Walls>, load: string[]): string {
  const f = (n: number) => n.toFixed(2);
  const cell = (xs: number[]) => `${f(median(xs))} [${f(Math.min(...xs))}-${f(Math.max(...xs))}]`;
  const paired = (xs: number[], ys: number[]) => median(xs.map((x, i) => x / (ys[i] as number)));
  const engine = docker(['version', '--format', '{{.Server.Version}}']).trim();
  const lines = [
    '<!-- bench:fresh-runner:start -->',
    '## bench/build/fresh-runner: a CI job on a fresh runner, the registry as the cache',
    '',
    `Run ${new Date().toISOString().slice(0, 10)} on ${machine()}, load average ${load.join(', ')} at the start (a machine shared with other sessions' builds and tests). The peers harness's apps, one line of index.js changed before every build; a docker-registry of the run's own on loopback holds the caches and receives the images. docker-fresh: Docker ${engine} with BuildKit, \`--cache-from\` the image an earlier build pushed with its inline cache, the engine's build cache pruned and the bench's images removed before each run (the base images stay: they cannot be pulled here), then \`docker push\`. distill-fresh: the installed distill, empty DISTILL_CACHE, \`--cache\` in the registry (filled by an earlier build), pushed to the same registry. distill-cold: empty DISTILL_CACHE, no cache (Debian packages, Node, every npm package downloaded). Wall seconds, median of ${RUNS} rounds [min-max], the three cases alternating run by run; ratios are medians of the per-round ratios.`,
    '',
    '| app | docker-fresh | distill-fresh | distill-cold | fresh / docker (target <= 0.35) | fresh / cold (target <= 0.5) |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const verdicts: string[] = [];
  for (const [app, w] of results) {
    const vsDocker = paired(w['distill-fresh'], w['docker-fresh']);
    const vsCold = paired(w['distill-fresh'], w['distill-cold']);
    lines.push(
      `| ${app} | ${cell(w['docker-fresh'])} | ${cell(w['distill-fresh'])} | ${cell(w['distill-cold'])} | ${f(vsDocker)} | ${f(vsCold)} |`,
    );
    verdicts.push(`- ${app}: ${f(vsDocker)}x docker's time, ${vsDocker <= 0.35 ? 'met' : 'NOT met'}`);
    verdicts.push(`- ${app}: ${f(vsCold)}x distill's cold build, ${vsCold <= 0.5 ? 'met' : 'NOT met'}`);
  }
  lines.push('', ...verdicts, '<!-- bench:fresh-runner:end -->');
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (!existsSync(join(peers, 'Dockerfile.in')))
    throw new Error(`no peers harness at ${peers}; set PEERS_DIR`);
  for (const image of [BUILDER_IMAGE, RUNTIME_IMAGE]) {
    try {
      docker(['image', 'inspect', image], { quiet: true });
    } catch {
      throw new Error(`${image} is not in the engine: run the peers harness's 10-base-images.sh first`);
    }
  }
  const load = loadavg().map((l) => l.toFixed(1));
  const scratch = mkdtempSync(join(tmpdir(), 'distill-bench-fresh-'));
  const registry = await startRegistry(scratch);
  const b: Bench = { scratch, reg: registry.host, distill: '', made: new Set() };
  try {
    b.distill = packAndInstall(root, scratch, 'now', 'bench/fresh-runner');
    for (const app of APPS) seed(b, app);
    const results = new Map<string, Walls>();
    for (const app of APPS) {
      const walls: Walls = { 'docker-fresh': [], 'distill-fresh': [], 'distill-cold': [] };
      for (let round = 1; round <= RUNS; round++) {
        const order = round % 2 ? [...CASES] : [...CASES].reverse();
        for (const c of order) {
          const wall = runCase(b, c, app, round);
          process.stderr.write(`bench/fresh-runner: ${app} ${c} round ${round}: ${wall.toFixed(2)} s\n`);
          walls[c].push(wall);
        }
      }
      results.set(app, walls);
    }
    const block = report(results, load);
    writeBenchBlock(root, 'fresh-runner', block);
    process.stdout.write(`${block}\n`);
  } finally {
    for (const app of APPS) removeImages(b, app);
    for (const id of b.made) {
      try {
        docker(['image', 'rm', id], { quiet: true });
      } catch {
        // still tagged by something else, or gone
      }
    }
    registry.proc.kill();
    if (process.env.KEEP === '1') process.stderr.write(`bench/fresh-runner: kept ${scratch}\n`);
    else rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
