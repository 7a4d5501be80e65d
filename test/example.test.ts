import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EXAMPLE_MESSAGE, makeExample } from '../scripts/make-example.js';
import { Store } from '../src/store/store.js';
import { distill, distillProcess } from './helpers/cli.js';
import { requireComponents, tempDir } from './helpers/components.js';
import { docker, dockerRun } from './helpers/docker.js';

const EXAMPLE = fileURLToPath(new URL('../examples/hello-image', import.meta.url));

test('the bundled example is reproducible: rebuilt from scratch it has the committed digest', async (t) => {
  const dir = await tempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const digest = await makeExample(join(dir, 'layout'), new Store(join(dir, 'cache')));
  const committed = await distill(['digest', `oci:${EXAMPLE}:latest`]);
  assert.equal(committed.code, 0, committed.stderr);
  assert.equal(committed.stdout.trim(), digest);
});

test("the README's first command: copy the example to a docker archive that the engine loads and runs", async (t) => {
  const dir = await tempDir();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const archive = join(dir, 'hello.tar');
  const name = `distill-readme/hello:${process.pid}`;
  const r = distillProcess(['copy', `oci:${EXAMPLE}:latest`, `docker-archive:${archive}:${name}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^copied oci:.*hello-image:latest to docker-archive:/);
  assert.match(r.stderr, /writing destination/);
  if (!requireComponents(t, 'docker')) return;
  t.after(() => {
    try {
      docker(['image', 'rm', '-f', name]);
    } catch {
      // gone already
    }
  });
  docker(['load', '-i', archive]);
  assert.equal(`${dockerRun(name)}\n`, EXAMPLE_MESSAGE);
});
