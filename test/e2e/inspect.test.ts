import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { FACTS_JSON_SCHEMA } from '../../src/inspect/schema.js';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir, which } from '../helpers/components.js';
import { docker, importBusyboxImage, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * `distill inspect` on images made by real tools in the test: a Debian root filesystem from
 * debootstrap imported into the Docker engine, an Alpine-like image from Debian's musl and
 * busybox-static with an apk database, distill's own distroless image, and an image built by
 * docker build with a setuid binary, a world-writable directory, a secret-looking variable and
 * a file deleted in a later layer.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAG = `t${process.pid}`;

interface Facts {
  os: { id: string | null; version: string | null };
  libc: { family: string; version: string | null };
  shells: { name: string; path: string; target: string | null }[];
  packageManagers: { name: string; path: string }[];
  packages: { type: string; name: string; version: string | null }[];
  setuid: { path: string }[];
  worldWritable: { path: string }[];
  secrets: { kind: string; location: string }[];
  user: string | null;
  runsAsRoot: boolean | null;
  wastedBytes: number;
  lotl: { name: string; path: string }[];
  unsafePaths: unknown[];
  size: { compressed: number | null; uncompressed: number };
  layers: { compressed: number | null; mediaType: string | null }[];
}

const validate = new Ajv2020({ strict: false, allErrors: true }).compile(FACTS_JSON_SCHEMA);

describe('e2e: distill inspect on images made by real tools', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const images: string[] = [];
  /** The images the tests made, by kind, for the three-image report at the end. */
  const made: Record<string, string> = {};
  before(async () => {
    dir = await tempDir('distill-inspect-e2e-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    removeImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  async function inspect(
    ref: string,
    extra: string[] = [],
  ): Promise<{ facts: Facts; code: number; stderr: string }> {
    const r = await distill(['inspect', ref, '-q', '--format', 'json', ...extra], env);
    assert.ok(r.code === 0 || r.code === 3, `exit ${r.code}: ${r.stderr}`);
    const facts = JSON.parse(r.stdout) as Facts;
    assert.ok(
      validate(facts),
      `the JSON follows the published schema: ${JSON.stringify(validate.errors?.slice(0, 3))}`,
    );
    return { facts, code: r.code, stderr: r.stderr };
  }

  test('a Debian minbase root filesystem from debootstrap', async (t) => {
    if (!requireComponents(t, 'docker', 'debootstrap')) return;
    if (!(await requireNetwork(t, DEBIAN))) return;
    const rootfs = join(dir, 'minbase');
    execFileSync('debootstrap', ['--variant=minbase', 'trixie', rootfs, 'http://deb.debian.org/debian'], {
      stdio: 'pipe',
      timeout: 900_000,
    });
    const image = `distill-e2e/minbase:${TAG}`;
    execFileSync(
      'bash',
      ['-c', `tar --numeric-owner -C '${rootfs}' -cf - . | '${'/usr/bin/docker'}' import - ${image}`],
      {
        stdio: 'pipe',
      },
    );
    images.push(image);
    made.debian = `docker-daemon:${image}`;
    const { facts, code, stderr } = await inspect(`docker-daemon:${image}`, ['--deny', 'shell']);
    assert.equal(facts.os.id, 'debian');
    assert.match(facts.os.version ?? '', /^13/);
    assert.equal(facts.libc.family, 'glibc');
    assert.match(facts.libc.version ?? '', /^2\.\d+$/);
    const sh = facts.shells.find((s) => s.name === 'sh');
    assert.ok(sh, 'sh is found');
    assert.match(sh.target ?? '', /dash$/);
    assert.ok(facts.shells.some((s) => s.name === 'bash'));
    // bash's postinst lists /bin/rbash in /etc/shells; rbash is no name distill looks for otherwise.
    assert.ok(
      facts.shells.some((s) => s.name === 'rbash'),
      facts.shells.map((s) => s.name).join(','),
    );
    const pms = facts.packageManagers.map((p) => p.name);
    assert.ok(pms.includes('apt') && pms.includes('dpkg'), pms.join(','));
    assert.ok(
      facts.lotl.some((t) => t.name === 'su' && /\/su$/.test(t.path)),
      'su is named su',
    );
    assert.ok(!facts.lotl.some((t) => t.name === 'sudo' && /\/su$/.test(t.path)));
    assert.deepEqual(facts.unsafePaths, [], 'a real root filesystem has no unsafe entries');
    // The package list is what dpkg-query says in that root.
    const listed = execFileSync(
      'dpkg-query',
      // dpkg-query's own format (not a template string).
      ['--admindir', join(rootfs, 'var/lib/dpkg'), '-W', '-f', ['$', '{Package} $', '{Version}\n'].join('')],
      {
        encoding: 'utf8',
      },
    )
      .trim()
      .split('\n')
      .sort();
    const found = facts.packages
      .filter((p) => p.type === 'deb')
      .map((p) => `${p.name} ${p.version}`)
      .sort();
    assert.deepEqual(found, listed);
    assert.equal(code, 3, '--deny shell fails on Debian');
    assert.match(stderr, /breaks --deny shell/);
  });

  test('an Alpine-like image: musl and busybox from Debian, an apk database', async (t) => {
    if (!requireComponents(t, 'docker', 'busybox', 'apt-get', 'dpkg-deb')) return;
    if (!(await requireNetwork(t, DEBIAN))) return;
    const work = join(dir, 'alpine');
    const rootfs = join(work, 'rootfs');
    await mkdir(rootfs, { recursive: true });
    execFileSync('apt-get', ['download', 'musl'], { cwd: work, stdio: 'pipe' });
    const deb = (await readdir(work)).find((f) => f.startsWith('musl_') && f.endsWith('.deb'))!;
    execFileSync('dpkg-deb', ['-x', join(work, deb), rootfs]);
    const arch = process.arch === 'arm64' ? 'aarch64' : 'x86_64';
    await mkdir(join(rootfs, 'lib'), { recursive: true });
    // Debian's musl ships the loader link itself (/lib/ld-musl-ARCH.so.1 -> libc.so); make it if not.
    await symlink(`/usr/lib/${arch}-linux-musl/libc.so`, join(rootfs, 'lib', `ld-musl-${arch}.so.1`)).catch(
      (err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      },
    );
    await mkdir(join(rootfs, 'bin'), { recursive: true });
    await cp('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    await symlink('busybox', join(rootfs, 'bin', 'sh'));
    await mkdir(join(rootfs, 'etc'), { recursive: true });
    await writeFile(
      join(rootfs, 'etc', 'os-release'),
      'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.22.2\nPRETTY_NAME="Alpine Linux v3.22"\n',
    );
    await mkdir(join(rootfs, 'lib', 'apk', 'db'), { recursive: true });
    await writeFile(
      join(rootfs, 'lib', 'apk', 'db', 'installed'),
      'C:Q1abc=\nP:musl\nV:1.2.5-r10\nA:x86_64\n\nC:Q1def=\nP:busybox\nV:1.37.0-r19\nA:x86_64\n\nP:apk-tools\nV:2.14.9-r2\n\n',
    );
    await mkdir(join(rootfs, 'sbin'), { recursive: true });
    await symlink('/bin/busybox', join(rootfs, 'sbin', 'apk'));
    const image = `distill-e2e/alpine-like:${TAG}`;
    execFileSync(
      'bash',
      ['-c', `tar --numeric-owner -C '${rootfs}' -cf - . | /usr/bin/docker import - ${image}`],
      {
        stdio: 'pipe',
      },
    );
    images.push(image);
    made.alpine = `docker-daemon:${image}`;
    const { facts, code } = await inspect(`docker-daemon:${image}`, ['--deny', 'shell']);
    assert.equal(facts.os.id, 'alpine');
    assert.equal(facts.libc.family, 'musl');
    assert.ok(facts.shells.some((s) => s.name === 'sh' && /busybox/.test(s.target ?? '')));
    assert.ok(facts.packageManagers.some((p) => p.name === 'apk'));
    assert.deepEqual(
      facts.packages.filter((p) => p.type === 'apk').map((p) => `${p.name}=${p.version}`),
      ['apk-tools=2.14.9-r2', 'busybox=1.37.0-r19', 'musl=1.2.5-r10'],
    );
    assert.equal(code, 3);
  });

  test("distill's own distroless image: no shell, no package manager, glibc, nonroot", async (t) => {
    if (!requireComponents(t, 'docker')) return;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const app = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
    const layout = join(dir, 'hello-image');
    const b = await distill(['build', app, '-q', '-o', `oci:${layout}:latest`], env);
    assert.equal(b.code, 0, b.stderr);
    made.distroless = `oci:${layout}:latest`;
    const { facts, code } = await inspect(`oci:${layout}:latest`, [
      '--deny',
      'shell,package-manager,root,setuid,secrets,unsafe-paths,compressed-size>200MB',
    ]);
    assert.equal(code, 0);
    assert.deepEqual(facts.shells, []);
    assert.deepEqual(facts.packageManagers, []);
    assert.equal(facts.libc.family, 'glibc');
    assert.equal(facts.runsAsRoot, false);
    assert.ok(
      facts.packages.some((p) => p.type === 'deb' && p.name === 'libc6'),
      'packages from status.d',
    );
    assert.ok(facts.packages.some((p) => p.type === 'npm' && p.name === 'express'));
  });

  test('docker build: a setuid binary, a world-writable dir, a secret-looking env var, a deleted file', async (t) => {
    if (!requireComponents(t, 'docker', 'busybox')) return;
    const base = `distill-e2e/inspect-busybox:${TAG}`;
    await importBusyboxImage(dir, base, 'base');
    images.push(base);
    const ctx = join(dir, 'ctx');
    await mkdir(ctx, { recursive: true });
    await writeFile(
      join(ctx, 'Dockerfile'),
      [
        `FROM ${base}`,
        'ENV API_TOKEN=not-a-real-token-123',
        'RUN ["/bin/busybox", "sh", "-c", "/bin/busybox cp /bin/busybox /bin/helper && /bin/busybox chmod 4755 /bin/helper && /bin/busybox mkdir -m 0777 /shared && /bin/busybox dd if=/dev/zero of=/big bs=1024 count=512"]',
        'RUN ["/bin/busybox", "rm", "/big"]',
        '',
      ].join('\n'),
    );
    const image = `distill-e2e/inspect-risky:${TAG}`;
    docker(['build', '--network', 'host', '-q', '-t', image, ctx]);
    images.push(image);
    const r = await distill(['inspect', `docker-daemon:${image}`, '-q', '--format', 'json'], env);
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /not-a-real-token-123/, 'the value of a secret never appears');
    const facts = JSON.parse(r.stdout) as Facts;
    assert.ok(validate(facts), JSON.stringify(validate.errors?.slice(0, 3)));
    assert.ok(facts.setuid.some((s) => s.path === '/bin/helper'));
    assert.ok(facts.worldWritable.some((w) => w.path === '/shared'));
    assert.ok(facts.secrets.some((s) => s.kind === 'env' && /API_TOKEN/.test(s.location)));
    assert.ok(facts.wastedBytes >= 512 * 1024, `wasted ${facts.wastedBytes}`);
    // The engine hands out its layers as plain tars: their compressed size is unknown, not the tar's.
    assert.ok(facts.layers.length >= 3);
    assert.deepEqual(
      facts.layers.map((l) => l.compressed),
      facts.layers.map(() => null),
    );
    assert.equal(facts.size.compressed, null);
    const text = await distill(['inspect', `docker-daemon:${image}`, '-q'], env);
    assert.match(text.stdout, /Size \(compressed\) +unknown \(layers stored uncompressed\)/);
    const unknown = await distill(
      ['inspect', `docker-daemon:${image}`, '-q', '--deny', 'compressed-size>1MB'],
      env,
    );
    assert.equal(unknown.code, 1, unknown.stderr);
    assert.match(
      unknown.stderr,
      /--deny compressed-size>1MB cannot be checked on docker-daemon:.*stored uncompressed/,
    );
    assert.equal(unknown.stdout, '', 'no report');
    const denied = await distill(
      ['inspect', `docker-daemon:${image}`, '-q', '--deny', 'setuid,secrets'],
      env,
    );
    assert.equal(denied.code, 3);
    assert.match(denied.stderr, /\/bin\/helper/);
    assert.doesNotMatch(denied.stderr, /not-a-real-token-123/);
  });

  test('the HTML report of a three-image compare renders in headless Chromium without console errors', async (t) => {
    if (!requireComponents(t, 'chromium')) return;
    const refs = [made.debian, made.alpine, made.distroless].filter((r): r is string => r !== undefined);
    if (refs.length < 3) {
      // The images come from the tests above; without them there is nothing to compare.
      assert.fail(`the three images were not made (have ${refs.join(', ') || 'none'})`);
    }
    const report = join(dir, 'report.html');
    const r = await distill(['compare', ...refs, '-q', '--format', 'html', '-o', report], env);
    assert.equal(r.code, 0, r.stderr);
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({
      executablePath: which('chromium') ?? '/usr/bin/chromium',
      args: ['--no-sandbox'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
      });
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('request', (req) => {
        if (!req.url().startsWith('file:')) problems.push(`network request: ${req.url()}`);
      });
      await page.goto(`file://${report}`);
      assert.equal(await page.locator('svg').count(), 3, 'one layer chart per image');
      const text = await page.locator('body').innerText();
      assert.match(text, /Shell access/);
      assert.match(text, /musl/);
      assert.match(text, /Packages against docker-daemon:/);
      assert.match(text, /Package changes of oci:.* against docker-daemon:/);
      assert.deepEqual(problems, []);
      const shot =
        process.env.DISTILL_UPDATE_SCREENSHOT === '1'
          ? join(ROOT, 'docs', 'images', 'compare-report.png')
          : join(dir, 'report.png');
      await mkdir(join(shot, '..'), { recursive: true });
      await page.screenshot({ path: shot, fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
