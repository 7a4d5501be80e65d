import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Lockfile } from '../../src/plan/lockfile.js';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * `distill base` against Debian's real archive and the npm registry, run by the real Docker
 * engine: a C++ program on the cc base (built FROM it with docker build), nodejs24 --nonroot,
 * the debug shell, status.d for scanners; the same images pass skopeo and umoci.
 */
const TAG = `t${process.pid}`;

describe('e2e: distill base with Debian, the npm registry and the Docker engine', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const images: string[] = [];
  before(async () => {
    dir = await tempDir('distill-base-e2e-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    removeImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  function unpack(layout: string, tag: string): string {
    const bundle = join(dir, `bundle-${tag}`);
    execFileSync('umoci', ['unpack', '--image', `${layout}:${tag}`, bundle], { stdio: 'pipe' });
    return join(bundle, 'rootfs');
  }

  test('cc: a C++ program compiled on the host runs FROM it, and it has no /bin/sh', async (t) => {
    if (!requireComponents(t, 'docker', 'skopeo', 'umoci', 'g++')) return;
    if (!(await requireNetwork(t, DEBIAN))) return;
    const layout = join(dir, 'cc');
    const name = `distill-e2e/cc:${TAG}`;
    const r = await distill(
      ['base', 'cc', '-q', '-o', `oci:${layout}:cc`, '-o', `docker-daemon:${name}`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(name);
    const inspected = JSON.parse(
      execFileSync('skopeo', ['inspect', `oci:${layout}:cc`], { encoding: 'utf8' }),
    );
    assert.equal(inspected.Os, 'linux');
    const rootfs = unpack(layout, 'cc');
    assert.equal(existsSync(join(rootfs, 'usr/bin/sh')), false, 'no /bin/sh');
    assert.equal(existsSync(join(rootfs, 'usr/bin/dash')), false);
    assert.ok(existsSync(join(rootfs, 'var/lib/dpkg/status.d/libstdc++6')));

    const ctx = join(dir, 'cpp');
    execFileSync('mkdir', ['-p', ctx]);
    await writeFile(
      join(ctx, 'hello.cpp'),
      '#include <iostream>\n#include <vector>\nint main(){std::vector<int> v{1,2,3};int s=0;for(int x:v)s+=x;std::cout<<"cc base says "<<s<<std::endl;}\n',
    );
    execFileSync('g++', ['-O2', '-o', join(ctx, 'hello'), join(ctx, 'hello.cpp')]);
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${name}\nCOPY hello /hello\nENTRYPOINT ["/hello"]\n`);
    const built = `distill-e2e/cpp:${TAG}`;
    docker(['build', '--network', 'host', '-q', '-t', built, ctx]);
    images.push(built);
    assert.equal(docker(['run', '--rm', '--network', 'none', built]).trim(), 'cc base says 6');
    assert.throws(() =>
      docker(['run', '--rm', '--network', 'none', '--entrypoint', '/bin/sh', built, '-c', 'true']),
    );
  });

  test('nodejs24 --nonroot: node -e runs as 65532, reads the CA bundle, formats a Tokyo date', async (t) => {
    if (!requireComponents(t, 'docker', 'skopeo', 'umoci')) return;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const layout = join(dir, 'node');
    const name = `distill-e2e/nodejs24:${TAG}`;
    const r = await distill(
      [
        'base',
        'nodejs24',
        '--nonroot',
        '-q',
        '-o',
        `oci:${layout}:n`,
        '-o',
        `docker-daemon:${name}`,
        '--format',
        'json',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(name);
    const out = JSON.parse(r.stdout);
    assert.match(out.node, /^24\.\d+\.\d+$/);
    const script = [
      "const fs = require('fs');",
      'const pem = fs.readFileSync(process.env.SSL_CERT_FILE, "utf8");',
      "const d = new Intl.DateTimeFormat('en-GB', { timeZone: 'Asia/Tokyo', hour: '2-digit', hour12: false }).format(new Date(Date.UTC(2024, 0, 1, 0)));",
      "console.log([process.getuid(), process.getgid(), pem.split('BEGIN CERTIFICATE').length - 1 > 100, d, process.version].join(' '));",
    ].join(' ');
    const line = docker(['run', '--rm', '--network', 'none', name, '-e', script]).trim();
    assert.equal(line, `65532 65532 true 09 v${out.node}`);
    const cfg = JSON.parse(docker(['image', 'inspect', name]))[0].Config;
    assert.deepEqual(cfg.Entrypoint, ['/nodejs/bin/node']);
    assert.equal(cfg.User, '65532:65532');
    assert.ok(cfg.Env.includes('SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt'));
    const rootfs = unpack(layout, 'n');
    assert.ok(existsSync(join(rootfs, 'var/lib/dpkg/status.d/libc6')));
    const md5 = readFileSync(join(rootfs, 'var/lib/dpkg/status.d/libc6.md5sums'), 'utf8');
    assert.match(md5, /^[0-9a-f]{32} {2}usr\/lib\/x86_64-linux-gnu\/libc\.so\.6$/m);
    const status = readFileSync(join(rootfs, 'var/lib/dpkg/status.d/libc6'), 'utf8');
    assert.match(status, /^Package: libc6\nStatus: install ok installed\n/);
    assert.equal(existsSync(join(rootfs, 'usr/bin/sh')), false);
    assert.equal(existsSync(join(rootfs, 'nodejs/bin/npm')), false, 'no npm');
  });

  test('Debian: two builds from one lockfile with empty caches give the same digest', async (t) => {
    if (!(await requireNetwork(t, DEBIAN))) return;
    const lockFile = join(dir, 'static.lock.json');
    let r = await distill(['lock', 'static', '-q', '-o', lockFile], {
      DISTILL_CACHE: join(dir, 'lock-cache'),
    });
    assert.equal(r.code, 0, r.stderr);
    const digests: string[] = [];
    for (const i of [1, 2]) {
      r = await distill(
        [
          'base',
          'static',
          '-q',
          '--lock',
          lockFile,
          '-o',
          `oci:${join(dir, `repro-${i}`)}:x`,
          '--format',
          'json',
        ],
        { DISTILL_CACHE: join(dir, `repro-cache-${i}`) },
      );
      assert.equal(r.code, 0, r.stderr);
      digests.push(JSON.parse(r.stdout).digest);
    }
    assert.equal(digests[0], digests[1]);
    // and a fresh resolve on the same day gives the same image as the lockfile
    r = await distill(
      ['base', 'static', '-q', '-o', `oci:${join(dir, 'repro-3')}:x`, '--format', 'json'],
      env,
    );
    assert.equal(JSON.parse(r.stdout).digest, digests[0]);
  });

  test('nodejs24 locked, then checked and rebuilt from the lock with empty caches: each suite from its own mirror, the warm digest', async (t) => {
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const lockFile = join(dir, 'nodejs24.lock.json');
    let r = await distill(['lock', 'nodejs24', '-q', '-o', lockFile], env);
    assert.equal(r.code, 0, r.stderr);
    const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as Lockfile;
    assert.deepEqual(
      lock.suites.map((s) => [s.name, s.mirror]),
      [
        ['trixie', 'http://deb.debian.org/debian'],
        ['trixie-updates', 'http://deb.debian.org/debian'],
        ['trixie-security', 'http://deb.debian.org/debian-security'],
      ],
    );
    const fromLock = async (name: string, cache: NodeJS.ProcessEnv) => {
      const b = await distill(
        ['base', 'nodejs24', '-q', '--lock', lockFile, '-o', `oci:${join(dir, name)}:x`, '--format', 'json'],
        cache,
      );
      assert.equal(b.code, 0, b.stderr);
      return JSON.parse(b.stdout).digest as string;
    };
    const warm = await fromLock('n24-warm', env);
    // a clean runner: nothing in the cache, every suite's InRelease, index and .deb fetched again
    r = await distill(['lock', '--check', '-q', '--lock', lockFile], {
      DISTILL_CACHE: join(dir, 'n24-check'),
    });
    assert.equal(r.code, 0, `just locked, so current: ${r.stdout}${r.stderr}`);
    assert.equal(await fromLock('n24-cold', { DISTILL_CACHE: join(dir, 'n24-cold-cache') }), warm);
  });

  test('--debug: /busybox/sh works and is the entrypoint', async (t) => {
    if (!requireComponents(t, 'docker')) return;
    if (!(await requireNetwork(t, DEBIAN))) return;
    const name = `distill-e2e/debug:${TAG}`;
    const r = await distill(
      ['base', 'base', '--debug', '--nonroot', '-q', '-o', `docker-daemon:${name}`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(name);
    assert.equal(
      docker(['run', '--rm', '--network', 'none', name, '-c', 'echo hi from $0; id -u']).trim(),
      'hi from /busybox/sh\n65532',
    );
    assert.equal(
      docker(['run', '--rm', '--network', 'none', name, '-c', 'ls /busybox/busybox && which ls']).trim(),
      '/busybox/busybox\n/busybox/ls',
    );
  });
});
