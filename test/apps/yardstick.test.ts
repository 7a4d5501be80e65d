import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitForAnswer } from '../helpers/apps/http.js';
import { nodeImage } from '../helpers/apps/images.js';
import { APPS, appCopy, checkHttp } from '../helpers/apps.js';
import { DOCKER, freePort, requireComponents } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * The yardstick issue 15 measures distill's Next image against: Next's documented standalone
 * Dockerfile (test/helpers/apps/dockerfiles), built by the real Docker engine from the generated
 * next-standalone app on a stand-in for node:24 made in the test, must run and pass the app's
 * HTTP checks, so that a size compared with it is a size of a working image.
 */
const DOCKERFILES = fileURLToPath(new URL('../helpers/apps/dockerfiles', import.meta.url));

test("Next's documented standalone Dockerfile builds the generated app into an image that answers", {
  timeout: 40 * 60_000,
}, async (t) => {
  if (!requireComponents(t, 'docker', 'debootstrap')) return;
  if (!(await requireNetwork(t, NPM, DEBIAN))) return;
  const base = await nodeImage();
  const dir = await appCopy('next-standalone');
  const image = `distill-test/next-docs:t${process.pid}`;
  let cid = '';
  // The container first: an image a container still uses would only lose its tag.
  t.after(async () => {
    if (cid) docker(['rm', '-f', cid]);
    removeImages([image]);
    await rm(dir, { recursive: true, force: true });
  });
  await cp(join(DOCKERFILES, 'next-standalone.dockerignore'), join(dir, '.dockerignore'));
  execFileSync(
    DOCKER,
    [
      'build',
      '--network',
      'host',
      '-q',
      '--build-arg',
      `NODE_IMAGE=${base}`,
      '-f',
      join(DOCKERFILES, 'next-standalone.Dockerfile'),
      '-t',
      image,
      dir,
    ],
    // BuildKit, as the bench's docker builds: the classic builder leaves every stage behind as
    // an untagged image.
    { stdio: 'pipe', timeout: 30 * 60_000, env: { ...process.env, DOCKER_BUILDKIT: '1' } },
  );
  const cfg = JSON.parse(docker(['image', 'inspect', image]))[0];
  assert.deepEqual(cfg.Config.Cmd, ['node', 'server.js']);
  assert.equal(cfg.Config.User, 'nextjs');
  const port = await freePort();
  cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, image]).trim();
  const url = `http://127.0.0.1:${port}`;
  await waitForAnswer(url, '/', { timeoutMs: 60_000 });
  const checked = await checkHttp(url, APPS['next-standalone'].checks);
  assert.equal(checked.length, APPS['next-standalone'].checks.length);
  // /app is the standalone tree with its assets beside it: no sources, no dev dependencies.
  const has = docker([
    'exec',
    cid,
    'node',
    '-p',
    "['server.js','public/next.svg','.next/static','node_modules/next','node_modules/typescript','app/page.tsx'].map((p)=>require('fs').existsSync(p)).join(' ')",
  ]).trim();
  assert.equal(has, 'true true true true false false');
  t.diagnostic(
    `${image} on ${base}: ${(cfg.Size / 1e6).toFixed(1)} MB; ${checked.map((c) => `GET ${c.path} ${c.status}`).join(', ')}`,
  );
});
