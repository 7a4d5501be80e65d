import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isElf, readElf } from '../../src/build/app/elf.js';
import { readLayer } from '../../src/layers/read.js';
import { enableQemuAarch64 } from '../helpers/binfmt.js';
import { distill } from '../helpers/cli.js';
import { freePort, requireComponents, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * Issue 20 on an amd64 machine: apps with native addons built for linux/amd64 and linux/arm64
 * in one command (better-sqlite3 cross-compiled with Debian's crossbuild-essential-arm64, its
 * install scripts on the arm64 Node under qemu-user; sharp from its linux-arm64 packages), the
 * arm64 image run by the real engine under qemu-user-static through binfmt_misc and asked a
 * query that uses the addon, the amd64 image the same as a single-platform build's, and the
 * error when the machine has neither a cross toolchain nor emulation. Each app is built once
 * and shared by the tests (an emulated Node is slow; the sqlite compile takes minutes).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = join(ROOT, 'test', 'fixtures', 'apps');
const TAG = `t${process.pid}`;
const COMPONENTS = [
  'docker',
  'aarch64-linux-gnu-gcc',
  'aarch64-linux-gnu-g++',
  'qemu-aarch64-static',
  'update-binfmts',
  'make',
  'python3',
];

async function waitForHttp(url: string, timeoutMs: number): Promise<string> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < until) {
    try {
      const r = await fetch(url, { signal: AbortSignal.timeout(5000) });
      if (r.ok) return await r.text();
      last = new Error(`HTTP ${r.status}`);
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms: ${String(last)}`);
}

/**
 * The files of the single-platform image in an OCI layout: path -> content for ELF files (the
 * first bytes are the ELF magic) and YAML files (.yaml, .yml), undefined for the others.
 */
async function imageFiles(layout: string): Promise<Map<string, Buffer | undefined>> {
  const blob = (d: { digest: string }) => join(layout, 'blobs', 'sha256', d.digest.slice('sha256:'.length));
  const json = async (d: { digest: string }) => JSON.parse(await readFile(blob(d), 'utf8'));
  let top = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')).manifests[0];
  let manifest = await json(top);
  while (manifest.manifests !== undefined) {
    top = manifest.manifests[0];
    manifest = await json(top);
  }
  const files = new Map<string, Buffer | undefined>();
  for (const layer of manifest.layers as { digest: string }[]) {
    for await (const { header, body } of readLayer(createReadStream(blob(layer)))) {
      if (header.type !== 'file') continue;
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const all = Buffer.concat(chunks);
      files.set(header.name, isElf(all.subarray(0, 4)) || /\.ya?ml$/.test(header.name) ? all : undefined);
    }
  }
  return files;
}

describe('e2e: multi-arch builds of apps with native addons', { concurrency: false }, () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const images: string[] = [];
  const containers: string[] = [];
  /** Per app: the two-platform build's layout, once built. */
  const built = new Map<string, Promise<string>>();
  before(async () => {
    dir = await tempDir('distill-multiarch-e2e-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    for (const c of containers) {
      try {
        docker(['rm', '-f', c]);
      } catch {
        // gone
      }
    }
    removeImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  async function ready(t: Parameters<typeof requireComponents>[0]): Promise<boolean> {
    if (!requireComponents(t, ...COMPONENTS)) return false;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return false;
    const why = enableQemuAarch64();
    if (why === undefined) return true;
    if (process.env.CI === 'true') throw new Error(`CI=true: ${why}`);
    t.skip(why);
    return false;
  }

  /** The app built for linux/amd64,linux/arm64 into an OCI layout (tag `two`), once. */
  function buildTwo(app: string): Promise<string> {
    let p = built.get(app);
    if (p === undefined) {
      p = (async () => {
        const copy = join(dir, `app-${app}`);
        await cp(join(FIXTURES, app), copy, { recursive: true });
        const out = join(dir, `${app}-two`);
        const r = await distill(
          ['build', copy, '-q', '--platform', 'linux/amd64,linux/arm64', '-o', `oci:${out}:two`],
          env,
        );
        assert.equal(r.code, 0, r.stderr);
        return out;
      })();
      built.set(app, p);
    }
    return p;
  }

  /** One platform's image of an OCI layout (the two-platform build's by default), loaded into the engine. */
  async function load(app: string, arch: 'amd64' | 'arm64', layout?: string): Promise<string> {
    const out = layout ?? `oci:${await buildTwo(app)}:two`;
    const image = `distill-e2e-multiarch/${app}:${TAG}-${arch}`;
    const r = await distill(['copy', out, `docker-daemon:${image}`, '--platform', `linux/${arch}`]);
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    assert.equal(JSON.parse(docker(['image', 'inspect', image]))[0].Architecture, arch);
    return image;
  }
  const loadArm64 = (app: string) => load(app, 'arm64');

  /**
   * `docker run --platform linux/arm64` of the image's own Node, with its CMD. The entrypoint is
   * Node rather than the image's `tini -s`: Debian 12's qemu-user (7.2) does not emulate
   * PR_SET_CHILD_SUBREAPER, so tini stops at once under emulation (on arm64 hardware it runs).
   */
  function runArm64(image: string, args: string[], extra: string[] = []): string[] {
    return ['run', '--platform', 'linux/arm64', ...extra, '--entrypoint', '/nodejs/bin/node', image, ...args];
  }

  /**
   * Runs the image with PORT set and returns what GET / says: arm64 under emulation (see
   * runArm64), amd64 natively with the image's own entrypoint.
   */
  async function ask(image: string, arch: 'amd64' | 'arm64' = 'arm64'): Promise<unknown> {
    const port = await freePort();
    const cmd = JSON.parse(docker(['image', 'inspect', image]))[0].Config.Cmd as string[];
    const opts = ['-d', '--network', 'host', '-e', `PORT=${port}`];
    const cid = docker(arch === 'arm64' ? runArm64(image, cmd, opts) : ['run', ...opts, image]).trim();
    containers.push(cid);
    try {
      return JSON.parse(await waitForHttp(`http://127.0.0.1:${port}/`, 120_000));
    } catch (err) {
      throw new Error(`${String(err)}\n${docker(['logs', cid])}`);
    }
  }

  /** `node -p process.arch` in the image, under emulation. */
  const archOf = (image: string) =>
    docker(runArm64(image, ['-p', 'process.arch'], ['--rm', '--network', 'none'])).trim();

  test('better-sqlite3, cross-compiled: the arm64 image answers a query under qemu', async (t) => {
    if (!(await ready(t))) return;
    const image = await loadArm64('native-sqlite');
    const answer = (await ask(image)) as { app: string; sum: number; version: string };
    assert.equal(answer.app, 'native-sqlite');
    assert.equal(answer.sum, 55);
    assert.match(answer.version, /^3\.\d+/);
    assert.equal(archOf(image), 'arm64');
  });

  test('the two-platform build plans the routes it took', async (t) => {
    if (!(await ready(t))) return;
    const copy = join(dir, 'app-native-sqlite');
    await buildTwo('native-sqlite');
    const r = await distill(['build', copy, '--plan', '--platform', 'linux/amd64,linux/arm64'], env);
    assert.equal(r.code, 0, r.stderr);
    const native = JSON.parse(r.stdout).native as {
      arch: string;
      packages: { name: string; route: string; scriptsEmulated?: boolean }[];
    }[];
    assert.equal(native.length, 1);
    assert.equal(native[0]!.arch, 'arm64');
    assert.deepEqual(
      native[0]!.packages.map((p) => [p.name, p.route, p.scriptsEmulated]),
      [['better-sqlite3', 'cross-compiled', true]],
    );
  });

  test('the amd64 image of the two-platform build is a single-platform build, byte for byte', async (t) => {
    if (!(await ready(t))) return;
    const two = await buildTwo('native-sqlite');
    const one = join(dir, 'native-sqlite-one');
    const r = await distill(
      ['build', join(dir, 'app-native-sqlite'), '-q', '--platform', 'linux/amd64', '-o', `oci:${one}:one`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const fromTwo = await distill(['digest', `oci:${two}:two`, '--platform', 'linux/amd64']);
    const single = await distill(['digest', `oci:${one}:one`]);
    assert.equal(fromTwo.code, 0, fromTwo.stderr);
    assert.match(single.stdout.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal(fromTwo.stdout.trim(), single.stdout.trim());
  });

  test('sharp takes linux-arm64 packages: the arm64 image resizes an image under qemu', async (t) => {
    if (!(await ready(t))) return;
    const image = await loadArm64('sharp-app');
    assert.deepEqual(await ask(image), { app: 'sharp-app', format: 'png', width: 4, height: 4 });
    assert.equal(archOf(image), 'arm64');
  });

  /**
   * An app of esbuild built for linux/arm64 alone: of the per-platform packages the image holds
   * @esbuild/linux-arm64 alone, with an arm64 ELF; with pnpm or yarn berry, the package manager's
   * `settings` file got supportedArchitectures in the scratch copy only (the app's and the
   * image's are the app's, byte for byte). Returns the layout.
   */
  async function esbuildForArm64(app: string, settings?: string): Promise<string> {
    const copy = join(dir, `app-${app}`);
    await cp(join(FIXTURES, app), copy, { recursive: true });
    const out = join(dir, `${app}-arm64`);
    const r = await distill(['build', copy, '-q', '--platform', 'linux/arm64', '-o', `oci:${out}:arm`], env);
    assert.equal(r.code, 0, r.stderr);
    const files = await imageFiles(out);
    const platform = [...files.keys()].filter((p) => p.includes('/@esbuild/'));
    assert.ok(platform.length > 0, [...files.keys()].join('\n'));
    assert.deepEqual(
      platform.filter((p) => !p.includes('/@esbuild/linux-arm64/')),
      [],
      'only @esbuild/linux-arm64 of the platform packages is in the arm64 image',
    );
    const bin = platform.find((p) => p.endsWith('/@esbuild/linux-arm64/bin/esbuild'));
    assert.ok(bin !== undefined && files.get(bin) !== undefined, platform.join('\n'));
    assert.equal((await readElf(files.get(bin)!, bin)).machine.name, 'arm64');
    if (settings === undefined) return out;
    const original = await readFile(join(FIXTURES, app, settings), 'utf8');
    assert.equal(await readFile(join(copy, settings), 'utf8'), original);
    const inImage = [...files.keys()].filter((p) => p.endsWith(`/${settings}`));
    assert.equal(inImage.length, 1, inImage.join('\n'));
    assert.equal(files.get(inImage[0]!)?.toString(), original);
    return out;
  }

  test('pnpm: esbuild takes @esbuild/linux-arm64; the image holds its arm64 binary only', async (t) => {
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    await esbuildForArm64('pnpm-esbuild', 'pnpm-workspace.yaml');
  });

  test('yarn berry (node-modules linker): the same, and the arm64 image runs esbuild under qemu', async (t) => {
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const out = await esbuildForArm64('yarn-berry-esbuild', '.yarnrc.yml');
    if (!(await ready(t))) return;
    const image = await load('yarn-berry-esbuild', 'arm64', `oci:${out}:arm`);
    assert.deepEqual(await ask(image), { app: 'yarn-berry-esbuild', arch: 'arm64', code: 'const n = 1;' });
  });

  test('yarn 1: yarn itself runs on the arm64 Node under qemu, and so takes @esbuild/linux-arm64', async (t) => {
    if (!(await ready(t))) return;
    const out = await esbuildForArm64('yarn-classic-esbuild');
    const image = await load('yarn-classic-esbuild', 'arm64', `oci:${out}:arm`);
    assert.deepEqual(await ask(image), { app: 'yarn-classic-esbuild', arch: 'arm64', code: 'const n = 1;' });
  });

  // sharp's addon finds libvips through its RUNPATH, $ORIGIN/../../sharp-libvips-linux-<cpu>/lib:
  // under pnpm that leads through a link from the addon's store entry into libvips's.
  test('pnpm: sharp finds libvips across the store links; the amd64 image makes a PNG', async (t) => {
    if (!requireComponents(t, 'docker')) return;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const copy = join(dir, 'app-pnpm-sharp-one');
    await cp(join(FIXTURES, 'pnpm-sharp'), copy, { recursive: true });
    const out = join(dir, 'pnpm-sharp-amd64');
    const r = await distill(['build', copy, '-q', '--platform', 'linux/amd64', '-o', `oci:${out}:amd`], env);
    assert.equal(r.code, 0, r.stderr);
    const files = [...(await imageFiles(out)).keys()];
    assert.ok(
      files.some((p) => /\/\.pnpm\/@img\+sharp-libvips-linux-x64@[^/]+\/.*\/libvips-cpp\.so\./.test(p)),
      files.filter((p) => p.includes('@img')).join('\n'),
    );
    const image = await load('pnpm-sharp-one', 'amd64', `oci:${out}:amd`);
    assert.deepEqual(await ask(image, 'amd64'), { app: 'pnpm-sharp', format: 'png', width: 4, height: 4 });
  });

  test('pnpm: sharp for both platforms; the arm64 image makes a PNG under qemu', async (t) => {
    if (!(await ready(t))) return;
    const image = await loadArm64('pnpm-sharp');
    assert.deepEqual(await ask(image), { app: 'pnpm-sharp', format: 'png', width: 4, height: 4 });
    assert.equal(archOf(image), 'arm64');
    // The app has no pnpm-workspace.yaml: the one the install got is gone again.
    assert.equal(existsSync(join(dir, 'app-pnpm-sharp', 'pnpm-workspace.yaml')), false);
    const two = await buildTwo('pnpm-sharp');
    const amd = await load('pnpm-sharp', 'amd64', `oci:${two}:two`);
    assert.deepEqual(await ask(amd, 'amd64'), { app: 'pnpm-sharp', format: 'png', width: 4, height: 4 });
  });

  test('no cross toolchain and no emulation: a clear error before anything is installed', async (t) => {
    if (!requireComponents(t, 'docker')) return;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const copy = join(dir, 'app-bare');
    await cp(join(FIXTURES, 'native-sqlite'), copy, { recursive: true });
    // A machine without them: a PATH with no aarch64-linux-gnu-gcc, an empty binfmt_misc directory.
    const emptyBin = join(dir, 'empty-bin');
    const noBinfmt = join(dir, 'no-binfmt');
    await mkdir(emptyBin, { recursive: true });
    await mkdir(noBinfmt, { recursive: true });
    const out = join(dir, 'bare-out');
    const cache = join(dir, 'bare-cache');
    const r = await distill(['build', copy, '--platform', 'linux/amd64,linux/arm64', '-o', `oci:${out}:x`], {
      DISTILL_CACHE: cache,
      PATH: emptyBin,
      DISTILL_BINFMT_DIR: noBinfmt,
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /linux\/arm64: better-sqlite3 \d+\.\d+\.\d+ runs an install script that builds native code/,
    );
    assert.match(r.stderr, /apt-get install crossbuild-essential-arm64/);
    assert.match(r.stderr, /qemu-user-static/);
    // Its code, CROSS_TOOLCHAIN_MISSING, is asserted through planApp in test/plan/native-routes.test.ts.
    // Nothing was installed or layered: no output, no install in the cache.
    assert.equal(existsSync(out), false);
    assert.equal(existsSync(join(cache, 'toolchains')), false);
  });
});
