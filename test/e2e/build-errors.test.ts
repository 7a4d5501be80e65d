import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * `distill build` on bad input: each case exits 1 with a sentence that says what to do, and
 * writes no image (the output layout is not created).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function emptyLock(name: string): string {
  return JSON.stringify({
    name,
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name, version: '1.0.0' } },
  });
}

describe('e2e: distill build refuses bad input with a sentence and writes nothing', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = await tempDir('distill-build-errors-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function app(name: string, pkg: Record<string, unknown>, files: Record<string, string> = {}) {
    const d = join(dir, name);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'package.json'), JSON.stringify({ name, version: '1.0.0', ...pkg }, null, 2));
    for (const [f, text] of Object.entries(files)) {
      await mkdir(join(d, f, '..'), { recursive: true });
      await writeFile(join(d, f), text);
    }
    return d;
  }

  async function fails(appDir: string, extra: string[] = []): Promise<string> {
    const out = join(dir, `out-${appDir.split('/').pop()}`);
    const r = await distill(['build', appDir, '-q', '-o', `oci:${out}:latest`, ...extra], env);
    assert.equal(r.code, 1, `exit code; stderr: ${r.stderr}`);
    assert.equal(existsSync(out), false, 'no image was written');
    assert.equal(existsSync(join(appDir, '.distill')), false);
    assert.doesNotMatch(r.stderr, /internal error/);
    return r.stderr;
  }

  test('no package.json', async () => {
    const d = join(dir, 'empty');
    await mkdir(d, { recursive: true });
    const err = await fails(d);
    assert.match(err, /has no package\.json; run distill build in a Node\.js app's directory/);
  });

  test('a start script that needs a shell', async () => {
    const d = await app(
      'shelly',
      { scripts: { start: 'node migrate.js && node server.js' } },
      { 'package-lock.json': emptyLock('shelly') },
    );
    const err = await fails(d);
    assert.match(err, /scripts\.start .* needs a shell/);
    assert.match(err, /--cmd server\.js|"distill": \{"cmd"/);
  });

  test('an unknown Node version', async (t) => {
    if (!(await requireNetwork(t, NPM))) return;
    const d = await app('old-node', {}, { 'index.js': '', 'package-lock.json': emptyLock('old-node') });
    const err = await fails(d, ['--node', '99.1.2']);
    assert.match(err, /no Node release matches "99\.1\.2"/);
    // The nearest releases there are (the wording of decision 0007).
    assert.match(err, /the newest release below it is \d+\.\d+\.\d+/);
  });

  test('engines.node that no release satisfies', async (t) => {
    if (!(await requireNetwork(t, NPM))) return;
    const d = await app(
      'engines',
      { engines: { node: '>=17.99 <18' } },
      { 'index.js': '', 'package-lock.json': emptyLock('engines') },
    );
    const err = await fails(d);
    assert.match(err, /no Node release matches ">=17\.99 <18"/);
    assert.match(err, /engines\.node in package\.json/);
  });

  test('a lockfile out of sync with package.json', async (t) => {
    if (!(await requireNetwork(t, NPM, DEBIAN))) return;
    const d = await app('out-of-sync', { dependencies: { ms: '^2.1.3' } }, { 'index.js': '' });
    await cp(join(ROOT, 'examples', 'hello', 'package-lock.json'), join(d, 'package-lock.json'));
    const err = await fails(d);
    assert.match(
      err,
      /package-lock\.json is out of sync with package\.json .* run npm install, commit the updated package-lock\.json/,
    );
  });

  test('a build script that fails shows its output', async (t) => {
    if (!(await requireNetwork(t, NPM, DEBIAN))) return;
    const d = await app(
      'broken-build',
      { scripts: { build: 'node -e "console.error(\'tsc: error TS2322 in src/x.ts\'); process.exit(3)"' } },
      { 'index.js': '', 'package-lock.json': emptyLock('broken-build') },
    );
    const err = await fails(d);
    assert.match(err, /the build script "build" failed \(exit code 3\)/);
    assert.match(err, /tsc: error TS2322 in src\/x\.ts/);
  });

  describe('native files that would not load', () => {
    /** An npm package (as a local tarball dependency) holding `addon.node` built by gcc. */
    async function addonApp(name: string, link: string[], patch?: (elf: Buffer) => void): Promise<string> {
      const d = await app(name, { dependencies: { addon: 'file:addon-1.0.0.tgz' } }, { 'index.js': '' });
      const work = join(d, '..', `${name}-work`);
      await mkdir(join(work, 'package'), { recursive: true });
      await writeFile(join(work, 'a.c'), 'int addon_value(void) { return 42; }\n');
      execFileSync(
        'gcc',
        ['-shared', '-fPIC', '-o', join(work, 'package', 'addon.node'), join(work, 'a.c'), ...link],
        {
          cwd: work,
          stdio: 'pipe',
        },
      );
      if (patch) {
        const p = join(work, 'package', 'addon.node');
        const elf = await readFile(p);
        patch(elf);
        await writeFile(p, elf);
      }
      await writeFile(
        join(work, 'package', 'package.json'),
        JSON.stringify({ name: 'addon', version: '1.0.0' }),
      );
      execFileSync('tar', ['-czf', join(d, 'addon-1.0.0.tgz'), '-C', work, 'package']);
      execFileSync('npm', ['install', '--package-lock-only', '--no-audit', '--no-fund'], {
        cwd: d,
        stdio: 'pipe',
      });
      return d;
    }

    /** A shared library with only a soname, for the addon to link against. */
    function dummyLib(work: string, soname: string): string[] {
      execFileSync('mkdir', ['-p', work]);
      execFileSync('gcc', [
        '-shared',
        '-fPIC',
        `-Wl,-soname,${soname}`,
        '-o',
        join(work, soname),
        '-x',
        'c',
        '/dev/null',
      ]);
      return [`-L${work}`, '-Wl,--no-as-needed', `-l:${soname}`];
    }

    test('a musl-linked addon', async (t) => {
      if (!requireComponents(t, 'gcc', 'npm')) return;
      if (!(await requireNetwork(t, NPM, DEBIAN))) return;
      const libs = join(dir, 'musl-libs');
      const d = await addonApp('musl-addon', dummyLib(libs, 'libc.musl-x86_64.so.1'));
      const err = await fails(d);
      assert.match(err, /app\/node_modules\/addon\/addon\.node is linked against musl/);
      assert.match(err, /the image's libc is glibc/);
    });

    test('an addon for another architecture', async (t) => {
      if (!requireComponents(t, 'gcc', 'npm')) return;
      if (!(await requireNetwork(t, NPM, DEBIAN))) return;
      const d = await addonApp('arm-addon', [], (elf) => {
        elf.writeUInt16LE(process.arch === 'arm64' ? 62 : 183, 18); // e_machine: x86_64 / aarch64
      });
      const err = await fails(d);
      assert.match(
        err,
        /app\/node_modules\/addon\/addon\.node is built for (arm64|amd64), but the image is linux\/(amd64|arm64)/,
      );
    });

    test('an addon needing a shared library the image lacks names the Debian package', async (t) => {
      if (!requireComponents(t, 'gcc', 'npm')) return;
      if (!(await requireNetwork(t, NPM, DEBIAN))) return;
      const libs = join(dir, 'png-libs');
      const d = await addonApp('png-addon', dummyLib(libs, 'libpng16.so.16'));
      const err = await fails(d);
      assert.match(
        err,
        /app\/node_modules\/addon\/addon\.node needs libpng16\.so\.16, which the image lacks/,
      );
      assert.match(err, /--package libpng16-16t64/);
    });
  });
});
