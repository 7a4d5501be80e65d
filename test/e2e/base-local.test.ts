import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Store } from '../../src/store/store.js';
import { type AptRepo, makeAptRepo } from '../helpers/aptrepo.js';
import { CERT, lockStatic, PACKAGES, repoArgs, staticDigest, useLocalRepo } from '../helpers/base-fixture.js';
import { distill } from '../helpers/cli.js';
import { requireComponents } from '../helpers/components.js';

/**
 * `distill base` and `distill lock` against a small signed apt repository the test makes and
 * serves on 127.0.0.1 (dpkg-deb, apt-ftparchive, gpg): reproducible digests guarded by a golden
 * file, the three verification faults through the CLI, lock --check, unsatisfiable chains,
 * postinst warnings and config-file errors. No network needed.
 */
const GOLDEN = fileURLToPath(new URL('../golden/base-local.json', import.meta.url));
describe('distill base against a local signed apt repository', () => {
  const fx = useLocalRepo('distill-base-local-');
  let repo: AptRepo | undefined;
  /** Whether the repository is there (made on first use); else the test skips, or fails under CI. */
  const needs = async (t: TestContext) => {
    repo = await fx.ready(t);
    return repo !== undefined;
  };
  const args = (...more: string[]) => [...repoArgs(repo!, fx.keyring()), ...more];

  test('two builds from one lockfile with empty caches give the same digest, the one in the golden file', async (t) => {
    if (!(await needs(t))) return;
    const lockFile = join(fx.dir, 'gold.lock.json');
    await lockStatic(repo!, fx.keyring(), lockFile, join(fx.dir, 'gold-lock-cache'));
    const digests = [
      await staticDigest(repo!, fx.keyring(), lockFile, join(fx.dir, 'gold-1')),
      await staticDigest(repo!, fx.keyring(), lockFile, join(fx.dir, 'gold-2')),
    ];
    assert.equal(digests[0], digests[1]);
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { static: string };
    assert.equal(
      digests[0],
      golden.static,
      'test/golden/base-local.json (rewrite with scripts/update-golden.ts only)',
    );
  });

  test('the image holds the packages, status.d, the CA bundle, users and the synthetic os-release', async (t) => {
    if (!(await needs(t)) || !requireComponents(t, 'umoci')) return;
    const layout = join(fx.dir, 'content');
    const r = await distill(['base', 'static', '--nonroot', '-q', ...args('-o', `oci:${layout}:x`)], {
      DISTILL_CACHE: join(fx.dir, 'cache'),
    });
    assert.equal(r.code, 0, r.stderr);
    execFileSync('umoci', ['unpack', '--image', `${layout}:x`, join(fx.dir, 'content-bundle')], {
      stdio: 'pipe',
    });
    const root = join(fx.dir, 'content-bundle', 'rootfs');
    assert.equal(await readFile(join(root, 'etc/ssl/certs/ca-certificates.crt'), 'utf8'), CERT);
    assert.match(await readFile(join(root, 'usr/lib/os-release'), 'utf8'), /PRETTY_NAME="Distroless"/);
    assert.match(await readFile(join(root, 'etc/passwd'), 'utf8'), /^nonroot:x:65532:65532:/m);
    assert.match(
      await readFile(join(root, 'var/lib/dpkg/status.d/tzdata'), 'utf8'),
      /^Package: tzdata\nStatus: install ok installed\n/,
    );
    await readFile(join(root, 'var/lib/dpkg/status.d/tzdata.md5sums'), 'utf8');
    await assert.rejects(
      readFile(join(root, 'var/lib/dpkg/status.d/ca-certificates')),
      'only the bundle of ca-certificates',
    );
    const config = JSON.parse(await readFile(join(fx.dir, 'content-bundle', 'config.json'), 'utf8'));
    assert.equal(config.process.user.uid, 65532);
    assert.equal(config.process.cwd, '/home/nonroot');
  });

  test('--package adds the package and its dependencies; an unrun postinst is named in a warning', async (t) => {
    if (!(await needs(t))) return;
    const r = await distill(
      [
        'base',
        'static',
        '-q',
        ...args('--package', 'hello', '--package', 'needs-setup', '-o', `oci:${join(fx.dir, 'extra')}:x`),
        '--format',
        'json',
      ],
      {
        DISTILL_CACHE: join(fx.dir, 'cache'),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const names = JSON.parse(r.stdout).packages.amd64.map(
      (p: { name: string; role: string }) => `${p.name}:${p.role}`,
    );
    assert.ok(
      names.includes('hello:extra') && names.includes('libfoo1:extra') && names.includes('needs-setup:extra'),
      names.join(' '),
    );
    assert.match(r.stderr, /needs-setup's postinst was not run/);
    assert.doesNotMatch(r.stderr, /ca-certificates's postinst/);
  });

  test('an unsatisfiable dependency prints the chain', async (t) => {
    if (!(await needs(t))) return;
    const r = await distill(['base', 'static', '-q', ...args('--package', 'nodejs-extra')], {
      DISTILL_CACHE: join(fx.dir, 'cache'),
    });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nodejs-extra -> libfoo1 \(>= 2\) -> none in testing \(available: 1\.4-2\)/);
  });

  test('lock, build from the lock without indexes, and lock --check after a newer version appears', async (t) => {
    if (!(await needs(t))) return;
    const lockFile = join(fx.dir, 'distill.lock.json');
    const env = { DISTILL_CACHE: join(fx.dir, 'lock-cache') };
    let r = await distill(['lock', 'static', '-q', ...args('-o', lockFile)], env);
    assert.equal(r.code, 0, r.stderr);
    const lock = JSON.parse(await readFile(lockFile, 'utf8'));
    assert.equal(lock.suites[0].name, 'testing');
    assert.match(lock.suites[0].date, /\d{4}/);
    const tz = lock.architectures.amd64.find((p: { name: string }) => p.name === 'tzdata');
    assert.deepEqual(Object.keys(tz).sort(), [
      'architecture',
      'filename',
      'name',
      'role',
      'sha256',
      'size',
      'suite',
      'version',
    ]);

    const before = repo!.log.length;
    r = await distill(
      ['base', 'static', '-q', '--lock', lockFile, ...args('-o', `oci:${join(fx.dir, 'from-lock')}:x`)],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const fetched = repo!.log.slice(before).map((e) => e.url);
    assert.ok(
      fetched.every((u) => !/Packages/.test(u)),
      `no index downloaded: ${fetched.join(' ')}`,
    );

    r = await distill(['lock', '--check', '-q', '--lock', lockFile, '--keyring', fx.keyring()]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /every locked package is current/);
    await repo!.addPackage({
      name: 'tzdata',
      version: '2026b-1',
      arch: 'all',
      files: { 'usr/share/zoneinfo/UTC': 'TZif-new\n' },
    });
    r = await distill(['lock', '--check', '-q', '--lock', lockFile, '--keyring', fx.keyring()]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /tzdata \(amd64\): 2026a-1 -> 2026b-1 in testing/);
  });

  test('faults: tampered InRelease, wrong Packages hash, wrong .deb hash each fail with their own message and cache nothing', async (t) => {
    if (!(await needs(t))) return;
    const faults: [string, RegExp][] = [
      ['deb', /netbase.*does not match|APT_DEB|SHA256/i],
      ['index', /Packages.*does not match the SHA256/],
      ['inrelease', /signature/i],
    ];
    for (const [name, message] of faults) {
      const bad = await makeAptRepo({ packages: PACKAGES.slice(0, 6) });
      try {
        const key = join(fx.dir, `${name}.asc`);
        await writeFile(key, bad.publicKey);
        const cache = join(fx.dir, `fault-${name}`);
        const store = new Store(cache);
        await (name === 'deb'
          ? bad.corruptDeb('netbase')
          : name === 'index'
            ? bad.corruptPackagesIndex()
            : bad.tamperInRelease());
        const r = await distill(
          [
            'base',
            'static',
            '-q',
            '--mirror',
            bad.url,
            '--suite',
            bad.suite,
            '--keyring',
            key,
            '--arch',
            'amd64',
            '-o',
            `oci:${join(fx.dir, `fault-out-${name}`)}`,
          ],
          { DISTILL_CACHE: cache },
        );
        assert.equal(r.code, 1, `${name}: ${r.stderr}`);
        assert.match(r.stderr, message, name);
        assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
        const leftovers = await import('node:fs/promises').then((fs) =>
          fs.readdir(join(cache, 'tmp')).catch(() => []),
        );
        assert.deepEqual(leftovers, [], `${name}: no temp files`);
        if (name === 'inrelease')
          assert.equal((await store.du()).blobs, 0, 'nothing cached before the signature check');
        await assert.rejects(
          import('node:fs/promises').then((fs) => fs.stat(join(fx.dir, `fault-out-${name}`, 'index.json'))),
        );
      } finally {
        await bad.stop();
      }
    }
  });

  test('a config file with a mistake names the field and its line', async (t) => {
    const file = join(fx.dir, 'base.yaml');
    await writeFile(
      file,
      'variant: static\nnonroot: true\npackages:\n  - hello\n  - {name: x}\nfiles:\n  - path: etc/motd\n    content: hi\n',
    );
    let r = await distill(['base', '-f', file]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /base\.yaml:5: packages\[1\] must be a string/);
    await writeFile(file, 'variant: static\nfiles:\n  - path: etc/motd\n    content: hi\n');
    r = await distill(['base', '-f', file]);
    assert.match(r.stderr, /base\.yaml:3: files\[0\]\.path must be an absolute path/);
    await writeFile(file, 'variant: stattic\n');
    r = await distill(['base', '-f', file]);
    assert.match(r.stderr, /base\.yaml:1: variant "stattic" is not one of static, base-nossl/);
    await writeFile(file, 'variant: static\nnonrot: true\n');
    r = await distill(['base', '-f', file]);
    assert.match(r.stderr, /base\.yaml:2: nonrot is not a field distill knows/);
    if (!(await needs(t))) return;
    await writeFile(
      file,
      `variant: static\nsuites: [${repo!.suite}]\nmirror: ${repo!.url}\narch: amd64\nnonroot: true\nenv:\n  TZ: UTC\ncmd: ["--help"]\nworkdir: /srv\nfiles:\n  - path: /etc/motd\n    content: "hello from yaml\\n"\n    mode: 0600\n`,
    );
    r = await distill(
      [
        'base',
        '-f',
        file,
        '--keyring',
        fx.keyring(),
        '-q',
        '-o',
        `oci:${join(fx.dir, 'yaml')}:x`,
        '--format',
        'json',
      ],
      {
        DISTILL_CACHE: join(fx.dir, 'cache'),
      },
    );
    assert.equal(r.code, 0, r.stderr);
    const { openArtifact } = await import('../../src/media/index.js');
    const { parseImageRef } = await import('../../src/ref/transport.js');
    const img = await openArtifact(parseImageRef(`oci:${join(fx.dir, 'yaml')}:x`));
    assert.equal(img.kind, 'image');
    if (img.kind !== 'image') return;
    const c = img.config.value.config!;
    assert.ok(c.Env?.includes('TZ=UTC'));
    assert.deepEqual(c.Cmd, ['--help']);
    assert.equal(c.WorkingDir, '/srv');
    assert.equal(c.User, '65532:65532');
    assert.equal(img.layers.length, 2, 'OS layer and the files layer');
  });
});
