import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { chooseBuild } from '../../src/plan/builder.js';
import { chooseCmd } from '../../src/plan/command.js';
import { entryCandidates, entryOf } from '../../src/plan/entry.js';
import { detectFramework } from '../../src/plan/frameworks.js';
import { readBinIndex } from '../../src/sources/app/bins.js';
import { type PackageJson, readAppDir } from '../../src/sources/app/read.js';
import { tempDir } from '../helpers/components.js';

/**
 * What the image runs, decided before anything installs (src/plan/command.ts): bins checked
 * against the lockfile's production dependencies, entry files against the app's tree, and the
 * candidates listed when there is no command to run.
 */
let dir = '';
let n = 0;
before(async () => {
  dir = await tempDir('distill-command-');
});
after(() => rm(dir, { recursive: true, force: true }));

/** An app directory with package.json and `files`; the command chosen with its lockfile's bins. */
async function choose(
  pkg: PackageJson,
  files: Record<string, string>,
  opts: { cmd?: string[]; build?: string; script?: string } = {},
) {
  const d = join(dir, `app-${n++}`);
  for (const [rel, text] of Object.entries({ 'package.json': JSON.stringify(pkg), ...files })) {
    await mkdir(join(d, rel, '..'), { recursive: true });
    await writeFile(join(d, rel), text);
  }
  const app = await readAppDir(d);
  return chooseCmd(app, opts.cmd, {
    exists: (rel) => rel in files,
    framework: detectFramework({ pkg, configs: {} }),
    bins: await readBinIndex(app, app),
    ...(opts.build !== undefined && { buildable: opts.build }),
    ...(opts.script !== undefined && { buildScript: opts.script }),
  });
}

/** package-lock.json v3 with these top-level packages: name -> [bins, dev]. */
function npmLock(pkgs: Record<string, [string[], boolean]>): string {
  const packages: Record<string, unknown> = { '': { name: 'x' } };
  for (const [name, [bins, dev]] of Object.entries(pkgs)) {
    packages[`node_modules/${name}`] = {
      version: '1.0.0',
      ...(bins.length > 0 && { bin: Object.fromEntries(bins.map((b) => [b, `bin/${b}.js`])) }),
      ...(dev && { dev: true }),
    };
  }
  return JSON.stringify({ name: 'x', lockfileVersion: 3, packages });
}

const NEST = {
  name: 'nest-app',
  scripts: { build: 'nest build', start: 'nest start', 'start:prod': 'node dist/main' },
  dependencies: { '@nestjs/core': '^11.0.0' },
  devDependencies: { '@nestjs/cli': '^11.0.0' },
};

describe('the command: production bins, entry files, candidates', () => {
  test("nest start runs a dev dependency's CLI: the plan takes start:prod, which the build makes", async () => {
    const c = await choose(
      NEST,
      {
        'package-lock.json': npmLock({ '@nestjs/core': [[], false], '@nestjs/cli': [['nest'], true] }),
      },
      { build: 'the build script "build"' },
    );
    assert.equal(c.kind, 'args');
    assert.deepEqual(c.args, ['dist/main']);
    assert.match(
      c.from,
      /^nest \(@nestjs\/core in dependencies\): scripts\["start:prod"\] \(node dist\/main\)/,
    );
    assert.match(
      c.from,
      /runs nest, a bin of @nestjs\/cli, which is a dev dependency \(package-lock\.json\)/,
    );
    assert.deepEqual(c.entry, { file: 'dist/main', checked: 'after the build script "build"' });
  });

  test('a dev bin with no framework to fall back on: an error before installing, with the candidates', async () => {
    const pkg = {
      name: 'tool',
      main: 'lib/server.js',
      scripts: { start: 'ts-node src/server.ts', serve: 'node --enable-source-maps dist/server.js' },
      devDependencies: { 'ts-node': '^10' },
    };
    await assert.rejects(
      choose(pkg, {
        'package-lock.json': npmLock({ 'ts-node': [['ts-node', 'ts-node-esm'], true] }),
        'server.js': '',
      }),
      (e) => {
        assert.ok(isDistillError(e, 'APP_CMD_UNKNOWN'), String(e));
        assert.match(e.message, /runs ts-node, a bin of ts-node, which is a dev dependency/);
        assert.match(e.message, /--cmd --enable-source-maps dist\/server\.js {2}\(scripts\["serve"\]/);
        assert.match(e.message, /--cmd lib\/server\.js {2}\(main in package\.json\)/);
        assert.match(e.message, /--cmd server\.js {2}\(server\.js is in the app\)/);
        assert.match(e.message, /choose one with --cmd FILE/);
        return true;
      },
    );
  });

  test('a bin no production dependency provides (npm, pnpm) and one that one does (yarn berry)', async () => {
    await assert.rejects(
      choose(
        { name: 'a', scripts: { start: 'serve-it' }, dependencies: { express: '^5' } },
        {
          'package-lock.json': npmLock({ express: [[], false] }),
        },
      ),
      (e) =>
        isDistillError(e, 'APP_CMD_UNKNOWN') &&
        /no production dependency in package-lock\.json provides a bin "serve-it"/.test(e.message),
    );
    const pnpmLock = [
      "lockfileVersion: '9.0'",
      'importers:',
      '  .:',
      '    dependencies:',
      '      express:',
      '        specifier: ^5.0.0',
      '        version: 5.1.0',
      '    devDependencies:',
      '      tsx:',
      '        specifier: ^4.0.0',
      '        version: 4.20.0',
      'packages:',
      '  express@5.1.0:',
      '    resolution: {integrity: sha512-x}',
      '  tsx@4.20.0:',
      '    resolution: {integrity: sha512-y}',
      '    hasBin: true',
      '',
    ].join('\n');
    await assert.rejects(
      choose(
        {
          name: 'p',
          scripts: { start: 'tsx src/index.ts' },
          dependencies: { express: '^5.0.0' },
          devDependencies: { tsx: '^4.0.0' },
        },
        { 'pnpm-lock.yaml': pnpmLock },
      ),
      (e) =>
        isDistillError(e, 'APP_CMD_UNKNOWN') &&
        /runs tsx, a bin of tsx, which is a dev dependency \(pnpm-lock\.yaml\)/.test(e.message),
    );
    const berry = [
      '__metadata:',
      '  version: 8',
      '',
      '"http-server@npm:^14.1.1":',
      '  version: 14.1.1',
      '  bin:',
      '    http-server: bin/http-server',
      '',
      '"web@workspace:.":',
      '  version: 0.0.0-use.local',
      '',
    ].join('\n');
    const ok = await choose(
      { name: 'web', scripts: { start: 'http-server public' }, dependencies: { 'http-server': '^14.1.1' } },
      { 'yarn.lock': berry },
    );
    assert.equal(ok.kind, 'bin');
    assert.equal(ok.entry?.file, 'the bin "http-server" of http-server');
  });

  test('an entry file that is not there and that nothing builds: an error at plan time', async () => {
    await assert.rejects(
      choose(
        { name: 'm', main: 'dist/index.js', scripts: { 'start:prod': 'node dist/index.js' } },
        {
          'package-lock.json': npmLock({}),
          'src/index.ts': '',
        },
      ),
      (e) =>
        isDistillError(e, 'APP_ENTRY_MISSING') &&
        /the command \(main in package\.json\) runs dist\/index\.js, which is not in .* and no build script could make it/.test(
          e.message,
        ),
    );
    // The same with a build script: checked after the build.
    const later = await choose(
      { name: 'm', main: 'dist/index.js' },
      { 'package-lock.json': npmLock({}) },
      { build: 'the build script "build"' },
    );
    assert.deepEqual(later.entry, { file: 'dist/index.js', checked: 'after the build script "build"' });
    // Node's own resolution: `node dist/main` runs dist/main.js.
    const found = await choose(
      { name: 'm', scripts: { start: 'node dist/main' } },
      {
        'package-lock.json': npmLock({}),
        'dist/main.js': '',
      },
    );
    assert.deepEqual(found.entry, { file: 'dist/main.js', checked: 'in the app directory' });
  });

  test('no entry point at all: what to add', async () => {
    await assert.rejects(
      choose(
        { name: 'no-entry', dependencies: { express: '^5' } },
        {
          'package-lock.json': npmLock({ express: [[], false] }),
          'src/app.js': '',
        },
      ),
      (e) =>
        isDistillError(e, 'APP_CMD_UNKNOWN') &&
        /no entry point: no start script, no "main", no server\.js or index\.js/.test(e.message) &&
        /no candidate found .* add a start script/.test(e.message),
    );
  });

  test('a framework without a server says so (SvelteKit without adapter-node)', async () => {
    await assert.rejects(
      choose(
        { name: 'kit', scripts: { build: 'vite build' }, devDependencies: { '@sveltejs/kit': '^2' } },
        {
          'package-lock.json': npmLock({}),
        },
        { build: 'the build script "build"' },
      ),
      (e) =>
        isDistillError(e, 'APP_CMD_UNKNOWN') &&
        /sveltekit \(@sveltejs\/kit in devDependencies\) builds no server/.test(e.message) &&
        /@sveltejs\/adapter-node/.test(e.message),
    );
  });

  test('entryOf skips node options and their values', () => {
    assert.equal(
      entryOf(['--enable-source-maps', '-r', 'dotenv/config', 'dist/a.js', '--port', '1']),
      'dist/a.js',
    );
    assert.equal(entryOf(['--import=tsx', 'x.mjs']), 'x.mjs');
    assert.equal(entryOf(['-e', 'console.log(1)']), undefined);
    assert.deepEqual(
      entryCandidates(
        { scripts: { a: 'node x.js', b: 'next start' }, main: 'x.js' },
        (f) => f === 'index.js',
      ),
      ['--cmd x.js  (scripts["a"]: node x.js)', '--cmd index.js  (index.js is in the app)'],
    );
  });

  test('a split start script whose server half cannot run: the error quotes the whole script and names the half', async () => {
    const lock = { 'package-lock.json': npmLock({ 'fastify-cli': [['fastify'], true] }) };
    const opts = { build: 'the build script "build:ts"', script: 'build:ts' };
    const cases: [string, RegExp][] = [
      [
        'npm run build:ts && FOO=1 node dist/app.js',
        /^scripts\.start \("npm run build:ts && FOO=1 node dist\/app\.js"\): its server half \("FOO=1 node dist\/app\.js"; "build:ts" runs at build time\) sets an environment variable \(FOO=1\).*pass --cmd dist\/app\.js -e FOO=1/,
      ],
      [
        'npm run build:ts && npx fastify start dist/app.js',
        /^scripts\.start \("npm run build:ts && npx fastify start dist\/app\.js"\): its server half \("npx fastify start dist\/app\.js"; "build:ts" runs at build time\) runs npx, and the image has no shell/,
      ],
      [
        // A dev dependency's bin: not a shell error, the candidates' error, which quotes it too.
        'npm run build:ts && fastify start dist/app.js',
        /scripts\.start \("npm run build:ts && fastify start dist\/app\.js"\) its server half \("fastify start dist\/app\.js"; "build:ts" runs at build time\) runs fastify, a bin of fastify-cli, which is a dev dependency/,
      ],
    ];
    for (const [start, message] of cases) {
      const pkg: PackageJson = { name: 'split', scripts: { start, 'build:ts': 'tsc' } };
      await assert.rejects(choose(pkg, lock, opts), (e: unknown) => {
        assert.ok(isDistillError(e) && e.code === 'APP_CMD_UNKNOWN', String(e));
        assert.match(e.message, message);
        return true;
      });
    }
  });

  test('a start script that builds, then starts: the build runs at build time, the image starts the server', async () => {
    // As fastify-cli's generator writes it.
    const fastify: PackageJson = {
      name: 'fapp',
      scripts: { start: 'npm run build:ts && fastify start -l info dist/app.js', 'build:ts': 'tsc' },
    };
    const lock = { 'package-lock.json': npmLock({ 'fastify-cli': [['fastify'], false] }) };
    const app = { dir, packageJson: fastify } as Parameters<typeof chooseBuild>[0];
    const build = chooseBuild(app, {});
    assert.deepEqual(build, { script: 'build:ts', from: 'scripts.start runs "build:ts" before the server' });
    const cmd = await choose(fastify, lock, { build: 'the build script "build:ts"', script: 'build:ts' });
    assert.equal(cmd.kind, 'bin');
    assert.deepEqual(cmd.kind === 'bin' && [cmd.bin, ...cmd.args], [
      'fastify',
      'start',
      '-l',
      'info',
      'dist/app.js',
    ]);
    assert.match(cmd.from, /without "build:ts", which runs at build time/);
    // yarn and pnpm spell it their way; with scripts.build the build is that one.
    for (const start of ['yarn build && node dist/server.js', 'pnpm run build && node dist/server.js']) {
      const pkg: PackageJson = { name: 'y', scripts: { start, build: 'tsc' } };
      assert.equal(chooseBuild({ dir, packageJson: pkg } as typeof app, {}).script, 'build');
      const c = await choose(pkg, {}, { build: 'the build script "build"', script: 'build' });
      assert.deepEqual(c.args, ['dist/server.js']);
      assert.equal(c.entry?.checked, 'after the build script "build"');
    }
    // Another script than the build script, or --no-build: the start script needs a shell, and
    // the error says which flag runs its first step at build time.
    const other: PackageJson = {
      name: 'z',
      scripts: { start: 'npm run build:ts && node dist/a.js', build: 'tsc -b', 'build:ts': 'tsc' },
    };
    assert.equal(chooseBuild({ dir, packageJson: other } as typeof app, {}).script, 'build');
    for (const script of ['build', undefined]) {
      await assert.rejects(
        choose(other, {}, { ...(script !== undefined && { script, build: `the build script "${script}"` }) }),
        (e: unknown) =>
          isDistillError(e) &&
          e.code === 'APP_CMD_UNKNOWN' &&
          /runs "build:ts" first, which is not the build script .*--build-script build:ts/.test(e.message),
      );
    }
    assert.equal(
      chooseBuild({ dir, packageJson: fastify } as typeof app, { noBuild: true }).script,
      undefined,
    );
    // `npm run start && ...` is not a build step.
    const loop: PackageJson = { name: 'l', scripts: { start: 'npm run start && node a.js' } };
    assert.equal(chooseBuild({ dir, packageJson: loop } as typeof app, {}).script, undefined);
  });
});
