import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fastifyListen, fastifyStartOptions } from '../../src/plan/fastify.js';
import { detectFramework } from '../../src/plan/frameworks.js';
import { planCommand } from '../../src/plan/frameworks-plan.js';
import { type PackageJson, readAppDir } from '../../src/sources/app/read.js';
import { tempDir } from '../helpers/components.js';

/**
 * fastify-cli's `fastify start` as the image's command (src/plan/fastify.ts): the port and the
 * listen address read from its flags and the image's environment as fastify-cli 8 reads them
 * (`-p`/`--port`, then FASTIFY_PORT, then PORT, then 3000; `-a`/FASTIFY_ADDRESS, `-s`/
 * FASTIFY_SOCKET), and what the plan makes of them: EXPOSE, FASTIFY_ADDRESS=0.0.0.0, warnings.
 */
const words = (line: string) => line.split(' ');

/** package.json scripts as `npx fastify-cli generate` writes them (fastify-cli 8.0.2, templates). */
const TS_START = 'npm run build:ts && fastify start -l info dist/app.js';
const JS_START = 'fastify start -l info app.js';
const generated = (start: string, dev = false): PackageJson => ({
  name: 'fapp',
  scripts: { start, ...(start === TS_START && { 'build:ts': 'tsc' }) },
  [dev ? 'devDependencies' : 'dependencies']: {
    fastify: '^5.0.0',
    'fastify-cli': '^8.0.2',
    'fastify-plugin': '^5.0.0',
  },
});

describe('fastify start: flags as fastify-cli parses them', () => {
  test('port, address, socket and config in every spelling; other options and their values pass', () => {
    assert.deepEqual(fastifyStartOptions(words('fastify start -l info dist/app.js')), {});
    assert.deepEqual(fastifyStartOptions(words('fastify start -p 8080 app.js')), { port: '8080' });
    assert.deepEqual(fastifyStartOptions(words('fastify start -p8080 app.js')), { port: '8080' });
    assert.deepEqual(fastifyStartOptions(words('fastify start --port=8081 app.js')), { port: '8081' });
    assert.deepEqual(fastifyStartOptions(words('fastify start --port 8082 -a 0.0.0.0 app.js')), {
      port: '8082',
      address: '0.0.0.0',
    });
    assert.deepEqual(fastifyStartOptions(words('fastify start --address=::1 -s /tmp/s app.js')), {
      address: '::1',
      socket: '/tmp/s',
    });
    assert.deepEqual(fastifyStartOptions(words('fastify start -c cfg.js app.js')), { config: 'cfg.js' });
    // Booleans followed by true/false, camelCase names, grouped short booleans, and -p.
    assert.deepEqual(
      fastifyStartOptions(words('fastify start --pretty-logs true --logLevel info -Pw -p 2 app.js')),
      { port: '2' },
    );
    assert.deepEqual(fastifyStartOptions(words('fastify start -w -P --port 9000 app.js')), { port: '9000' });
    // The app's own options after `--` are not fastify-cli's.
    assert.deepEqual(fastifyStartOptions(words('fastify start app.js -- --port 1234')), {});
    // Not fastify start.
    assert.equal(fastifyStartOptions(words('fastify generate app')), undefined);
    assert.equal(fastifyStartOptions(words('node app.js')), undefined);
  });

  test('the port: -p, then FASTIFY_PORT, then PORT, then 3000; FASTIFY_ADDRESS=0.0.0.0 unless the address is set', () => {
    assert.deepEqual(fastifyListen({}, []), { port: '3000', env: ['FASTIFY_ADDRESS=0.0.0.0'], warnings: [] });
    assert.equal(fastifyListen({}, ['PORT=8080']).port, '8080');
    assert.equal(fastifyListen({}, ['PORT=8080', 'FASTIFY_PORT=9090']).port, '9090');
    assert.equal(fastifyListen({ port: '7070' }, ['PORT=8080', 'FASTIFY_PORT=9090']).port, '7070');
    assert.equal(fastifyListen({ port: '07070' }, []).port, '7070');
    // The address set: nothing added; to 0.0.0.0 no warning.
    assert.deepEqual(fastifyListen({ address: '0.0.0.0' }, []), { port: '3000', env: [], warnings: [] });
    assert.deepEqual(fastifyListen({}, ['FASTIFY_ADDRESS=::']), { port: '3000', env: [], warnings: [] });
    // A unix socket: no port to expose.
    assert.deepEqual(fastifyListen({ socket: '/run/app.sock' }, []), { env: [], warnings: [] });
    assert.deepEqual(fastifyListen({}, ['FASTIFY_SOCKET=/run/app.sock']), { env: [], warnings: [] });
  });

  test('warnings with their fix: a loopback address, a config module, a port that is no number', () => {
    for (const address of ['127.0.0.1', 'localhost', '::1']) {
      const flag = fastifyListen({ address }, []);
      assert.equal(flag.port, '3000');
      assert.deepEqual(flag.env, []);
      assert.equal(flag.warnings.length, 1);
      assert.match(
        flag.warnings[0]!,
        new RegExp(`listens on ${address.replace(/\./g, '\\.')} \\(-a in the command\\)`),
      );
      assert.match(flag.warnings[0]!, /nothing outside the container can reach: use -a 0\.0\.0\.0/);
    }
    const env = fastifyListen({}, ['FASTIFY_ADDRESS=localhost']);
    assert.match(env.warnings[0]!, /listens on localhost \(FASTIFY_ADDRESS\).*-e FASTIFY_ADDRESS=0\.0\.0\.0/);
    const config = fastifyListen({ config: 'config.js' }, []);
    assert.equal(config.port, '3000');
    assert.match(config.warnings[0]!, /reads --config config\.js, which distill does not run.*pass -p PORT/);
    for (const port of ['abc', '70000']) {
      const bad = fastifyListen({}, [`PORT=${port}`]);
      assert.equal(bad.port, undefined);
      assert.match(bad.warnings[0]!, new RegExp(`port "${port}" \\(PORT\\) is not a port number`));
    }
  });
});

describe('fastify-cli apps in the plan', () => {
  let dir = '';
  let n = 0;
  before(async () => {
    dir = await tempDir('distill-fastify-plan-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** planCommand of an app with this package.json and a lockfile where fastify-cli has its bin. */
  async function plan(pkg: PackageJson, request: { env?: string[]; ports?: string[]; cmd?: string[] } = {}) {
    const d = join(dir, `app-${n++}`);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, 'package.json'), JSON.stringify(pkg));
    await writeFile(join(d, 'app.js'), 'module.exports = async function () {}\n');
    const dev = pkg.devDependencies?.['fastify-cli'] !== undefined;
    const lock = {
      name: 'fapp',
      lockfileVersion: 3,
      packages: {
        '': { name: 'fapp' },
        'node_modules/fastify-cli': {
          version: '8.0.2',
          bin: { fastify: 'cli.js' },
          ...(dev && { dev: true }),
        },
        'node_modules/fastify': { version: '5.6.2' },
      },
    };
    await writeFile(join(d, 'package-lock.json'), JSON.stringify(lock));
    const app = await readAppDir(d);
    const buildScript = pkg.scripts?.['build:ts'] !== undefined ? 'build:ts' : undefined;
    return planCommand({ root: app, app, wsRel: '', buildScript, request });
  }

  test('detected from fastify-cli and a fastify start script, for both templates', () => {
    for (const start of [TS_START, JS_START]) {
      const fw = detectFramework({ pkg: generated(start), configs: {} });
      assert.equal(fw.name, 'fastify');
      assert.equal(fw.from, 'fastify-cli in dependencies, fastify start in scripts.start');
      assert.equal(fw.port, 3000);
      assert.deepEqual(fw.env, ['FASTIFY_ADDRESS=0.0.0.0']);
      assert.equal(fw.image, 'app');
    }
    // fastify as a library, started by node: a plain server, no port claimed.
    const lib = detectFramework({
      pkg: { ...generated(JS_START), scripts: { start: 'node server.js' } },
      configs: {},
    });
    assert.equal(lib.name, 'node');
    assert.equal(lib.port, undefined);
  });

  test('the generated TypeScript app: EXPOSE 3000, FASTIFY_ADDRESS=0.0.0.0, the build script at build time', async () => {
    const p = await plan(generated(TS_START));
    assert.equal(p.framework.name, 'fastify');
    assert.deepEqual(p.cmd.bin, 'fastify');
    assert.deepEqual(p.cmd.args, ['start', '-l', 'info', 'dist/app.js']);
    assert.deepEqual(p.ports, ['3000']);
    assert.deepEqual(p.env, ['FASTIFY_ADDRESS=0.0.0.0']);
    assert.match(
      p.says,
      /^fastify \(fastify-cli in dependencies, fastify start in scripts\.start\); runs fastify start/,
    );
  });

  test('the image environment and distill -p decide as fastify-cli would', async () => {
    const js = generated(JS_START);
    assert.deepEqual((await plan(js, { env: ['PORT=8080'] })).ports, ['8080']);
    assert.deepEqual((await plan(js, { env: ['PORT=8080', 'FASTIFY_PORT=9090'] })).ports, ['9090']);
    // -p in the script wins over the environment; distill's own -p over both.
    const pinned = generated('fastify start -p 4000 -l info app.js');
    assert.deepEqual((await plan(pinned, { env: ['PORT=8080'] })).ports, ['4000']);
    assert.deepEqual((await plan(pinned, { ports: ['5000'] })).ports, ['5000']);
    // -e FASTIFY_ADDRESS replaces the one distill adds; a loopback one is warned about.
    const own = await plan(js, { env: ['FASTIFY_ADDRESS=0.0.0.0'] });
    assert.deepEqual(own.env, []);
    assert.equal(own.framework.warnings, undefined);
    const loop = await plan(js, { env: ['FASTIFY_ADDRESS=127.0.0.1'] });
    assert.deepEqual(loop.env, []);
    assert.match(loop.framework.warnings?.[0] ?? '', /listens on 127\.0\.0\.1 \(FASTIFY_ADDRESS\)/);
    const flag = await plan(generated('fastify start -a localhost app.js'));
    assert.deepEqual(flag.ports, ['3000']);
    assert.deepEqual(flag.env, []);
    assert.match(
      flag.framework.warnings?.[0] ?? '',
      /listens on localhost \(-a in the command\).*use -a 0\.0\.0\.0/,
    );
  });

  test('fastify-cli as a dev dependency: the start script cannot run, and the error says what to move', async () => {
    await assert.rejects(plan(generated(JS_START, true)), (e: Error) => {
      assert.match(e.message, /a bin of fastify-cli, which is a dev dependency/);
      assert.match(
        e.message,
        /"fastify-cli" must be in "dependencies" for fastify start to run in the image/,
      );
      return true;
    });
  });
});
