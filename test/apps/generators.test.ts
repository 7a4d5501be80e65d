import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { run } from '../helpers/apps/tools.js';
import {
  APP_NAMES,
  APPS,
  appCopy,
  checkHttp,
  entryCandidates,
  generatedApp,
  hostEnv,
  startOnHost,
} from '../helpers/apps.js';
import { requireComponents } from '../helpers/components.js';
import { NPM, requireNetwork } from '../helpers/network.js';

/**
 * The generated apps (test/helpers/apps.ts) as their own tooling runs them on the host, before
 * distill sees them: each is generated (or taken from the cache), copied with its node_modules,
 * built with its own build command and started with its own start command, and must pass its
 * HTTP checks. So when distill fails on one of them later, the failure is distill's. The app
 * with no entry point must be refused by npm itself. Generating takes minutes (two of them
 * compile better-sqlite3); the figures are printed as diagnostics.
 */
describe('generated apps, run on the host with their own tooling', () => {
  for (const name of APP_NAMES) {
    const spec = APPS[name];
    test(`${name}: ${spec.description}`, { timeout: 40 * 60_000 }, async (t) => {
      if (!(await requireNetwork(t, NPM))) return;
      if (spec.components && !requireComponents(t, ...spec.components)) return;
      const entry = await generatedApp(name);
      t.diagnostic(
        `${name}: ${entry.madeNow ? 'generated' : 'from the cache, generated'} in ${entry.meta.seconds} s (${entry.tree})`,
      );
      const dir = await appCopy(name, { nodeModules: true });
      t.after(() => rm(dir, { recursive: true, force: true }));
      const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8'));

      if (!spec.host) {
        assert.ok(spec.hostRefuses, `${name} neither runs nor says how it is refused`);
        assert.deepEqual(entryCandidates(dir, pkg), [], 'no entry point a builder could take');
        await assert.rejects(
          run(spec.hostRefuses.command, { cwd: dir, env: await hostEnv() }),
          (err: Error) => {
            assert.match(err.message, spec.hostRefuses!.output);
            return true;
          },
        );
        return;
      }
      const app = await startOnHost(name, dir);
      try {
        const checked = await checkHttp(app.base, spec.checks);
        assert.equal(checked.length, spec.checks.length);
        t.diagnostic(
          `${name}: built in ${app.buildSeconds.toFixed(1)} s; ${checked.map((c) => `GET ${c.path} ${c.status}`).join(', ')}`,
        );
      } catch (err) {
        throw new Error(
          `${(err as Error).message}\n--- ${spec.host.start.join(' ')} said:\n${app.server.output()}`,
        );
      } finally {
        await app.server.stop();
      }
    });
  }

  test('copies are fresh: no node_modules unless asked, and a change stays in its copy', async (t) => {
    if (!(await requireNetwork(t, NPM))) return;
    const entry = await generatedApp('node-pin');
    const a = await appCopy('node-pin');
    const b = await appCopy('node-pin', { nodeModules: true });
    t.after(() => Promise.all([a, b].map((d) => rm(d, { recursive: true, force: true }))));
    assert.notEqual(a, b);
    assert.ok(existsSync(join(a, '.node-version')), 'dot files are copied');
    await writeFile(join(a, 'server.js'), 'changed');
    assert.notEqual(await readFile(join(entry.tree, 'server.js'), 'utf8'), 'changed');
    assert.notEqual(await readFile(join(b, 'server.js'), 'utf8'), 'changed');
    // nest's tree holds the generator's install; a plain copy leaves it out.
    const nest = await generatedApp('nest');
    assert.ok(existsSync(join(nest.tree, 'node_modules', '@nestjs', 'core')));
    const c = await appCopy('nest');
    t.after(() => rm(c, { recursive: true, force: true }));
    assert.ok(!existsSync(join(c, 'node_modules')));
    assert.ok(existsSync(join(c, 'package-lock.json')));
  });
});
