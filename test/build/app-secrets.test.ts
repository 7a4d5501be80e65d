import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildApp } from '../../src/build/app/app.js';
import { isDistillError } from '../../src/errors.js';
import { inspectImage, mergedTree } from '../../src/inspect/index.js';
import { openArtifact, writeArtifact } from '../../src/media/index.js';
import type { Image } from '../../src/oci/image.js';
import { type AppRequest, planApp } from '../../src/plan/app.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import { HELLO_OFFLINE, offlineReady, useOfflineWorld } from '../helpers/app-fixture.js';
import { dir as dirEntry, file, hardlink, imageOf, symlink, type T } from '../inspect/helpers.js';

/**
 * Issue 13, points 8 and 9, through buildApp without the network (the offline world of
 * test/helpers/app-fixture.ts): the secrets of an app and of its build script's output stay out
 * of the image while the install still reads .npmrc, and a --base image with entries that leave
 * the image root is refused before anything is written.
 */
const KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

/** The build script: it fails unless the install's copy has .npmrc; its output holds two keys. */
const BUILD_JS = `const fs = require('node:fs');
if (!fs.readFileSync('.npmrc', 'utf8').includes('_authToken')) process.exit(3);
fs.mkdirSync('dist', { recursive: true });
fs.writeFileSync('dist/app.js', 'module.exports = 1;\\n');
fs.writeFileSync('dist/server.key', fs.readFileSync('id_rsa'));
fs.writeFileSync('dist/tls.key', fs.readFileSync('id_rsa'));
`;

/** A glibc base of stand-in files, as the native checks read it. */
const CLEAN_BASE: T[] = [
  file('etc/os-release', 'ID=debian\nVERSION_ID=13\n'),
  file(
    'etc/passwd',
    'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n',
  ),
  dirEntry('usr/lib/x86_64-linux-gnu/'),
  file('usr/lib/x86_64-linux-gnu/libc.so.6', 'libc', 0o755),
  file('usr/lib/x86_64-linux-gnu/libstdc++.so.6', 'libstdc++', 0o755),
  file('usr/lib/x86_64-linux-gnu/libgcc_s.so.1', 'libgcc', 0o755),
  dirEntry('var/lib/dpkg/status.d/'),
  file('var/lib/dpkg/status.d/libc6', 'Package: libc6\nVersion: 2.41-12\n'),
];

describe('buildApp: secrets stay out, hostile bases are refused (offline)', () => {
  const fx = useOfflineWorld('distill-app-secrets-');

  /** hello-offline with secrets and a build script, planned and built in `name`'s own store. */
  async function build(name: string, request: Partial<AppRequest> = {}, buildScript = true) {
    const world = await fx.world();
    const d = join(fx.dir, name);
    const app = join(d, 'app');
    await cp(HELLO_OFFLINE, app, { recursive: true });
    const secrets: Record<string, string> = {
      '.env': 'DB_PASSWORD=correct-horse\n',
      '.npmrc': '//npm.example.invalid/:_authToken=npm_0123456789abcdef\n',
      '.aws/credentials': '[default]\naws_secret_access_key=wJalrXUtnFEMI\n',
      id_rsa: KEY,
      'build.js': BUILD_JS,
    };
    for (const [rel, text] of Object.entries(secrets)) {
      await mkdir(join(app, rel, '..'), { recursive: true });
      await writeFile(join(app, rel), text);
    }
    if (buildScript) {
      const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8')) as { scripts: object };
      pkg.scripts = { ...pkg.scripts, build: 'node build.js' };
      await writeFile(join(app, 'package.json'), JSON.stringify(pkg));
    }
    const store = new Store(join(d, 'store'));
    const sources = world.sources(store);
    const out = join(d, 'out');
    const warnings: string[] = [];
    const steps: string[] = [];
    const plan = await planApp(
      {
        dir: app,
        node: '24',
        platforms: ['linux/amd64'],
        suites: [world.repo.suite],
        outputs: [`oci:${out}:x`],
        ...request,
      },
      sources,
      { warn: (m) => warnings.push(m) },
    );
    const run = () =>
      buildApp(plan, {
        store,
        sources,
        env: world.env(join(d, 'scratch')),
        warn: (m) => warnings.push(m),
        step: (m) => steps.push(m),
      });
    return { plan, run, out, warnings, steps, store };
  }

  test("issue 13 point 9: the app's and the build output's secrets stay out; .npmrc reaches the install", async (t) => {
    if (!offlineReady(t)) return;
    const b = await build('secrets', { includeSecrets: ['dist/tls.key'] });
    assert.deepEqual(
      b.plan.secrets.leftOut.map((s) => s.path),
      ['.aws/credentials', '.env', '.npmrc', 'id_rsa'],
    );
    assert.deepEqual(b.plan.secrets.include, ['dist/tls.key']);
    await b.run();
    assert.equal(b.warnings.length, 1, b.warnings.join('\n'));
    assert.deepEqual(
      [...b.warnings[0]!.matchAll(/^ {2}(\S+) +([a-z-]+):/gm)].map((m) => `${m[1]} ${m[2]}`),
      [
        '.aws/credentials aws-credentials',
        '.env dotenv',
        '.npmrc npmrc-token',
        'dist/server.key private-key',
        'id_rsa private-key',
      ],
    );
    assert.ok(b.steps.includes('kept as --include-secret asks: dist/tls.key'), b.steps.join('\n'));
    // Built again with nothing changed, the builder step's result is remembered (built.ts): what
    // its walks found is said again, word for word.
    const said = [...b.warnings];
    b.warnings.length = 0;
    b.steps.length = 0;
    await b.run();
    assert.ok(
      b.steps.some((s) => s.startsWith('build: cached (')),
      b.steps.join('\n'),
    );
    assert.deepEqual(b.warnings, said);
    assert.ok(b.steps.includes('kept as --include-secret asks: dist/tls.key'), b.steps.join('\n'));
    const image = (await openArtifact(parseImageRef(`oci:${b.out}:x`))) as Image;
    const tree = await mergedTree(image);
    for (const p of [
      'index.js',
      'build.js',
      'dist/app.js',
      'dist/tls.key',
      'node_modules/hello-dep/index.js',
    ]) {
      assert.equal(tree.lookup(`/app/${p}`)?.type, 'file', p);
    }
    for (const p of ['.env', '.npmrc', '.aws/credentials', 'id_rsa', 'dist/server.key']) {
      assert.equal(tree.lookup(`/app/${p}`), undefined, p);
    }
    // inspect finds what was kept deliberately, and nothing else.
    assert.deepEqual(
      (await inspectImage(image)).secrets.map((s) => `${s.kind} ${s.location}`),
      ['private-key /app/dist/tls.key'],
    );
  });

  test('without a build script the app layer is the directory less its secrets; the plan says which', async (t) => {
    if (!offlineReady(t)) return;
    const b = await build('no-build', { includeSecrets: ['id_rsa'] }, false);
    assert.deepEqual(
      b.plan.secrets.kept.map((s) => s.path),
      ['id_rsa'],
    );
    await b.run();
    assert.match(b.warnings.join('\n'), /^3 files that look like secrets were left out/);
    const tree = await mergedTree((await openArtifact(parseImageRef(`oci:${b.out}:x`))) as Image);
    assert.equal(tree.lookup('/app/id_rsa')?.type, 'file');
    assert.equal(tree.lookup('/app/.env'), undefined);
  });

  test('an --include-secret path the build script does not make is a usage error; nothing is written', async (t) => {
    if (!offlineReady(t)) return;
    const b = await build('unmet', { includeSecrets: ['dist/never.key'] });
    await assert.rejects(b.run(), (e) => {
      assert.ok(isDistillError(e, 'USAGE'), String(e));
      assert.match(
        e.message,
        /--include-secret dist\/never\.key: no such file in \S+ nor in the build script's output/,
      );
      return true;
    });
    assert.equal(existsSync(b.out), false);
  });

  test('issue 13 point 8: a --base with entries leaving the root is BASE_UNSAFE, remembered; a clean one passes', async (t) => {
    if (!offlineReady(t)) return;
    const layout = join(fx.dir, 'bases');
    const hostileLayer: T[] = [
      dirEntry('srv/'),
      file('/etc/cron.d/job', '* * * * * root /tmp/x\n'),
      file('srv/../srv-file', 'inside, by a detour'),
      hardlink('srv/shadow', '/etc/shadow'),
      symlink('evil', '/etc'),
      file('evil/cron.d/backdoor', '* * * * * root /tmp/x\n'),
      // A relative symlink climbing above the root writes nothing: let through.
      symlink('srv/up', '../../..'),
    ];
    const hostile = await imageOf({ layers: [CLEAN_BASE, hostileLayer] });
    await writeArtifact(parseImageRef(`oci:${layout}:hostile`), hostile);
    await writeArtifact(parseImageRef(`oci:${layout}:clean`), await imageOf({ layers: [CLEAN_BASE] }));

    const b = await build('hostile', { base: `oci:${layout}:hostile` }, false);
    const refused = (e: unknown) => {
      assert.ok(isDistillError(e, 'BASE_UNSAFE'), String(e));
      assert.match(e.message, /\(linux\/amd64\) has 4 layer entries that leave the image root/);
      assert.deepEqual(
        [...e.message.matchAll(/^ {2}layer (.*)$/gm)].map((m) => m[1]),
        [
          '1 "/etc/cron.d/job": absolute-name',
          '1 "srv/../srv-file": parent-reference',
          '1 "srv/shadow": hardlink-outside (/etc/shadow)',
          '1 "evil/cron.d/backdoor": through-symlink (/evil)',
        ],
      );
      assert.match(e.message, /distill inspect REF --deny unsafe-paths lists them/);
      return true;
    };
    await assert.rejects(b.run(), refused);
    assert.equal(existsSync(b.out), false, 'nothing was written');
    // Remembered by manifest digest: refused again without reading the base's layers.
    const rec = await b.store.record('base-files').get({ manifest: hostile.manifest.digest });
    assert.equal(rec?.unsafe.length, 5, 'the symlink climbing out is noted, not refused');
    await unlink(join(layout, 'blobs', 'sha256', hostile.layers[1]!.descriptor.digest.slice(7)));
    await assert.rejects(b.run(), refused);

    // The same base without that layer passes, and Node's own check too: the fake Node of the
    // offline world is a static executable (test/fixtures/fake-node), which needs no library of
    // the base. The image is written.
    const clean = await build('clean', { base: `oci:${layout}:clean` }, false);
    await clean.run();
    assert.equal(existsSync(clean.out), true);
  });
});
