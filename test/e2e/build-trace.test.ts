import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitForAnswer } from '../helpers/apps/http.js';
import { appsInDocker } from '../helpers/apps/in-docker.js';
import { APPS, type AppName } from '../helpers/apps.js';
import { distill } from '../helpers/cli.js';
import { DOCKER, freePort, requireComponents } from '../helpers/components.js';
import { docker } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';
import { writeTree } from '../helpers/tree.js';

/**
 * `distill build --trace` (issue 17 point 2) into the real Docker engine: the NestJS starter (a
 * TypeScript app built by tsc, whose framework loads optional packages by name) answers with
 * less in node_modules; the create-next-app app (`next build`, `next start`), traced from Next's own
 * lists and `next start`'s command line, answers its page and an API route with a smaller
 * node_modules layer; an Express app that loads a plugin by `require(variable)` fails with
 * Node's own error when traced, and answers when `--trace-include` keeps the plugin.
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/apps', import.meta.url));
const TAG = `t${process.pid}`;

/** A Next.js route handler, dynamic (it reads the request). */
const NEXT_ROUTE = `export async function GET(request: Request) {
  const name = new URL(request.url).searchParams.get('name') ?? 'world';
  return Response.json({ hello: name, node: process.version });
}
`;

/** The uncompressed size of the image's node_modules layer, as distill inspect reads it from the engine. */
async function nodeModulesLayer(image: string): Promise<number> {
  const r = await distill(['inspect', `docker-daemon:${image}`, '--format', 'json', '-q']);
  assert.equal(r.code, 0, r.stderr);
  const layers = JSON.parse(r.stdout).layers as { createdBy: string | null; uncompressed: number }[];
  const nm = layers.filter((l) => l.createdBy?.startsWith('distill build: node_modules'));
  assert.equal(nm.length, 1, JSON.stringify(layers));
  return nm[0]!.uncompressed;
}

/** Files under /app/node_modules in the image, counted by node in the image. */
function nodeModulesFiles(image: string): number {
  const script =
    "const fs=require('fs'),p=require('path');let n=0;const w=(d)=>{for(const e of fs.readdirSync(d,{withFileTypes:true})){if(e.isDirectory())w(p.join(d,e.name));else n++}};w('/app/node_modules');console.log(n)";
  return Number(docker(['run', '--rm', '--network', 'none', image, '-e', script]).trim());
}

describe('e2e: distill build --trace', () => {
  const e = appsInDocker('distill-trace-e2e-');

  async function build(app: string, image: string, flags: string[]): Promise<string> {
    const r = await distill(['build', app, '-o', `docker-daemon:${image}`, ...flags], e.env);
    assert.equal(r.code, 0, r.stderr);
    e.images.push(image);
    return r.stderr;
  }

  /** The number of the app's HTTP checks that passed in a container of `image`. */
  const serve = async (image: string, name: AppName) => (await e.serve(image, name)).checked.length;

  test('NestJS (TypeScript, built by tsc): traced, it answers with fewer files in node_modules', {
    timeout: 30 * 60_000,
  }, async (t) => {
    if (!requireComponents(t, 'docker') || !(await requireNetwork(t, NPM, DEBIAN))) return;
    const app = await e.copy('nest');
    const plan = JSON.parse((await distill(['build', app, '--plan', '--trace'], e.env)).stdout);
    assert.deepEqual(plan.prune.trace.entries, ['dist/main'], "the command's file");
    const whole = `distill-e2e/nest-whole:${TAG}`;
    await build(app, whole, ['--no-prune']);
    const traced = `distill-e2e/nest-traced:${TAG}`;
    const log = await build(app, traced, ['--trace']);
    assert.match(log, /node_modules: --trace keeps \d+ files, leaves out \d+ files/);
    assert.equal(await serve(traced, 'nest'), APPS.nest.checks.length);
    const [a, b] = [nodeModulesFiles(whole), nodeModulesFiles(traced)];
    t.diagnostic(`nest node_modules: ${a} files whole, ${b} traced`);
    assert.ok(b < a * 0.8, `${b} files traced, ${a} whole`);
  });

  test('Next.js from create-next-app (next build, next start): traced, it answers its page and an API route, smaller', {
    timeout: 40 * 60_000,
  }, async (t) => {
    if (!requireComponents(t, 'docker') || !(await requireNetwork(t, NPM, DEBIAN))) return;
    const app = await e.copy('next');
    // A route handler rendered at each request: a second kind of server file with its own list.
    await writeTree(app, { 'app/api/hello/route.ts': NEXT_ROUTE });
    const plan = JSON.parse((await distill(['build', app, '--plan', '--trace'], e.env)).stdout);
    assert.deepEqual(plan.prune.trace.next, { app: '' }, "next start: traced from Next's lists");
    assert.match(plan.prune.trace.note, /next build has not run in the app directory: the build counts/);
    const whole = `distill-e2e/next-whole:${TAG}`;
    await build(app, whole, []);
    const traced = `distill-e2e/next-traced:${TAG}`;
    const log = await build(app, traced, ['--trace']);
    const m =
      /node_modules: --trace \(Next's own lists: (\d+) \.nft\.json; and next start's command line\) keeps (\d+) files, leaves out (\d+) files/.exec(
        log,
      );
    assert.ok(m, log);
    assert.ok(Number(m[1]) >= 4, 'the server, the page, the route, ...');

    const { checked, cid } = await e.serve(traced, 'next');
    assert.equal(
      checked.length,
      APPS.next.checks.length,
      'the page, its stylesheet and font, public/next.svg',
    );
    const api = docker([
      'exec',
      cid,
      '/nodejs/bin/node',
      '-e',
      "fetch('http://127.0.0.1:' + process.env.PORT + '/api/hello?name=distill').then(async (r) => console.log(r.status, await r.text()))",
    ]).trim();
    assert.match(api, /^200 \{"hello":"distill","node":"v\d+\.\d+\.\d+"\}$/);
    // Kept: next start's path and what Next resolves by name; gone: the build toolchain, Next's build cache.
    const has = docker([
      'exec',
      cid,
      '/nodejs/bin/node',
      '-p',
      "['.next/BUILD_ID','node_modules/next/dist/cli/next-start.js','node_modules/next/dist/compiled/ci-info','node_modules/next/dist/compiled/webpack/webpack-lib.js','node_modules/next/dist/cli/next-build.js','node_modules/next/dist/compiled/next-server/app-page.runtime.dev.js','.next/cache'].map((p)=>require('fs').existsSync(p)).join(' ')",
    ]).trim();
    assert.equal(has, 'true true true true false false false');

    const [a, b] = [await nodeModulesLayer(whole), await nodeModulesLayer(traced)];
    t.diagnostic(
      `next node_modules layer: ${(a / 1e6).toFixed(1)} MB whole, ${(b / 1e6).toFixed(1)} MB traced (${m[2]} files kept, ${m[3]} left out)`,
    );
    assert.ok(b < a, `traced ${b} bytes, whole ${a}`);
  });

  test("require(variable): Node's own error when traced, the app answers with --trace-include", async (t) => {
    if (!requireComponents(t, 'docker') || !(await requireNetwork(t, NPM, DEBIAN))) return;
    const app = join(e.dir, 'express-plugin');
    await cp(join(FIXTURES, 'express-plugin'), app, { recursive: true });

    const missing = `distill-e2e/express-plugin-missing:${TAG}`;
    await build(app, missing, ['--trace']);
    const r = spawnSync(DOCKER, ['run', '--rm', '--network', 'none', missing], {
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.notEqual(r.status, 0, 'the app cannot start without its plugin');
    assert.match(r.stderr, /Error: Cannot find module 'dayjs'/);
    assert.match(r.stderr, /code: 'MODULE_NOT_FOUND'/);
    assert.doesNotMatch(r.stderr, /distill/i, "Node's error, nothing of distill's");

    const kept = `distill-e2e/express-plugin-kept:${TAG}`;
    await build(app, kept, ['--trace', '--trace-include', 'node_modules/dayjs/**']);
    const port = await freePort();
    const cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, kept]).trim();
    try {
      await waitForAnswer(`http://127.0.0.1:${port}`, '/', { timeoutMs: 30_000 });
      const body = await (await fetch(`http://127.0.0.1:${port}/`)).json();
      assert.deepEqual(body, { app: 'express-plugin', epoch: '1970-01-01T00:00:00.000Z' });
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${docker(['logs', cid])}`);
    } finally {
      docker(['rm', '-f', cid]);
    }
  });
});
