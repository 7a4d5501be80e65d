import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nodeImage } from '../helpers/apps/images.js';
import { appsInDocker } from '../helpers/apps/in-docker.js';
import { APPS } from '../helpers/apps.js';
import { distill } from '../helpers/cli.js';
import { DOCKER, requireComponents } from '../helpers/components.js';
import { docker } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * Issue 15's frameworks, on apps made by the frameworks' own generators (test/helpers/apps.ts),
 * built by `distill build` with default flags into the real Docker engine and asked over HTTP:
 * the NestJS starter runs `node dist/main` (its `start` is the dev CLI), Next's standalone
 * output is the image (page, `/_next/static` assets, public/) at a size compared with Next's
 * own documented Dockerfile built in the same test, and a tree with no entry point fails
 * before anything installs.
 */
const DOCKERFILES = fileURLToPath(new URL('../helpers/apps/dockerfiles', import.meta.url));
const TAG = `t${process.pid}`;

describe('e2e: frameworks in the plan, built and run', () => {
  const e = appsInDocker('distill-frameworks-');
  const { images, copy, serve } = e;

  const config = (image: string) => JSON.parse(docker(['image', 'inspect', image]))[0];

  test('NestJS from `nest new`: the image runs node dist/main and answers', {
    timeout: 30 * 60_000,
  }, async (t) => {
    if (!requireComponents(t, 'docker') || !(await requireNetwork(t, NPM, DEBIAN))) return;
    const app = await copy('nest');
    const image = `distill-e2e/nest:${TAG}`;
    const plan = await distill(['build', app, '--plan'], e.env);
    assert.equal(plan.code, 0, plan.stderr);
    const p = JSON.parse(plan.stdout);
    assert.equal(p.framework.name, 'nest');
    assert.match(
      p.cmd.from,
      /scripts\["start:prod"\] \(node dist\/main\).*nest, a bin of @nestjs\/cli, which is a dev dependency/,
    );
    const r = await distill(['build', app, '-o', `docker-daemon:${image}`], e.env);
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    assert.match(r.stderr, /smoke check: the command's modules resolve in the image/);
    const cfg = config(image);
    assert.deepEqual(cfg.Config.Cmd, ['dist/main']);
    assert.deepEqual(cfg.Config.ExposedPorts, { '3000/tcp': {} });
    const { checked, cid } = await serve(image, 'nest');
    assert.equal(checked.length, 1);
    // Production dependencies only: the CLI and the compiler are not in the image.
    const has = docker([
      'exec',
      cid,
      '/nodejs/bin/node',
      '-p',
      "['dist/main.js','node_modules/@nestjs/core','node_modules/@nestjs/cli','node_modules/typescript'].map((p)=>require('fs').existsSync(p)).join(' ')",
    ]).trim();
    assert.equal(has, 'true true false false');
    t.diagnostic(`nest: ${(cfg.Size / 1e6).toFixed(1)} MB`);
  });

  test("Next.js standalone: the standalone server with its assets, within 1.1x of Next's Dockerfile", {
    timeout: 40 * 60_000,
  }, async (t) => {
    if (!requireComponents(t, 'docker', 'debootstrap') || !(await requireNetwork(t, NPM, DEBIAN))) return;
    const app = await copy('next-standalone');
    const image = `distill-e2e/next-standalone:${TAG}`;
    const r = await distill(['build', app, '-o', `docker-daemon:${image}`], e.env);
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    const cfg = config(image);
    assert.deepEqual(cfg.Config.Cmd, ['server.js']);
    assert.deepEqual(cfg.Config.ExposedPorts, { '3000/tcp': {} });
    assert.ok(cfg.Config.Env.includes('HOSTNAME=0.0.0.0'), cfg.Config.Env.join(' '));
    const { checked, cid } = await serve(image, 'next-standalone');
    assert.equal(checked.length, APPS['next-standalone'].checks.length);
    // The standalone tree: no sources, no full node_modules (no next/dist/compiled/@next/swc, no typescript).
    const has = docker([
      'exec',
      cid,
      '/nodejs/bin/node',
      '-p',
      "['server.js','public/next.svg','.next/static','node_modules/next','app/page.tsx','node_modules/typescript','.next/cache','.next/standalone'].map((p)=>require('fs').existsSync(p)).join(' ')",
    ]).trim();
    assert.equal(has, 'true true true true false false false false');

    // Next's documented Dockerfile for standalone output, on a stand-in for node:24, same app.
    const yard = `distill-e2e/next-docs:${TAG}`;
    const src = await copy('next-standalone');
    await cp(join(DOCKERFILES, 'next-standalone.dockerignore'), join(src, '.dockerignore'));
    execFileSync(
      DOCKER,
      [
        'build',
        '--network',
        'host',
        '-q',
        '--build-arg',
        `NODE_IMAGE=${await nodeImage()}`,
        '-f',
        join(DOCKERFILES, 'next-standalone.Dockerfile'),
        '-t',
        yard,
        src,
      ],
      { stdio: 'pipe', timeout: 30 * 60_000 },
    );
    images.push(yard);
    const yardSize = config(yard).Size as number;
    await serve(yard, 'next-standalone');
    const ratio = cfg.Size / yardSize;
    t.diagnostic(
      `next-standalone: distill ${(cfg.Size / 1e6).toFixed(1)} MB, Next's Dockerfile ${(yardSize / 1e6).toFixed(1)} MB (${ratio.toFixed(2)}x)`,
    );
    assert.ok(ratio <= 1.1, `distill's image is ${ratio.toFixed(2)}x Next's own`);
  });

  test('a tree with no entry point fails before installing, saying what to add', {
    timeout: 10 * 60_000,
  }, async (t) => {
    if (!(await requireNetwork(t, NPM))) return;
    const app = await copy('no-entry');
    const out = join(e.dir, 'no-entry-out');
    const r = await distill(['build', app, '-o', `oci:${out}:latest`], e.env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /no entry point: no start script, no "main", no server\.js or index\.js/);
    assert.match(r.stderr, /no candidate found .*; add a start script .*, set "main", or pass --cmd FILE/);
    // Nothing installed, nothing resolved: the plan failed on the app directory alone.
    assert.doesNotMatch(r.stderr, /install:|copied \d+ files|Node \d+\.\d+\.\d+, from/);
    assert.equal(existsSync(out), false);
    assert.equal(existsSync(join(app, '.distill')), false);
  });
});
