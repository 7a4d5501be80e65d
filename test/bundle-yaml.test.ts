import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distillProcess } from './helpers/cli.js';
import { tempDir } from './helpers/components.js';
import { DEBIAN, NPM, requireNetwork } from './helpers/network.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/apps', import.meta.url));

/**
 * The tests run the CLI in-process, from the sources; users run bin/distill.js, which runs the
 * esbuild bundle (and on Node 20 its classic-script twin with V8's code cache). The bundle gives
 * yaml's CommonJS build as a default export only: planning a pnpm or yarn berry app through the
 * bin once failed with "parseYaml is not a function" while every in-process test passed.
 */
test('the installed entry point plans pnpm apps (their YAML lockfiles), both ways it runs the bundle', async (t) => {
  if (!(await requireNetwork(t, NPM, DEBIAN))) return;
  const cache = await tempDir('distill-bundle-yaml-');
  t.after(() => rm(cache, { recursive: true, force: true }));
  // Both ways the bin runs the bundle: the ESM chunks (Node 22.1+, or the code cache turned off)
  // and, on Node 20, the classic script.
  for (const off of ['1', '']) {
    for (const app of ['pnpm-esbuild', 'pnpm-dev-deps']) {
      const r = distillProcess(['build', join(FIXTURES, app), '--plan'], {
        DISTILL_CACHE: cache,
        NODE_DISABLE_COMPILE_CACHE: off,
      });
      assert.equal(r.code, 0, `${app} (NODE_DISABLE_COMPILE_CACHE=${off}): ${r.stderr}`);
      const plan = JSON.parse(r.stdout) as { packageManager: { name: string } };
      assert.equal(plan.packageManager.name, 'pnpm', app);
    }
  }
});
