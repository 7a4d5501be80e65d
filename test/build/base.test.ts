import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildBase } from '../../src/build/base/index.js';
import { isDistillError } from '../../src/errors.js';
import { defaultBaseConfig } from '../../src/plan/base.js';
import { type BaseRequest, planBase } from '../../src/plan/base-plan.js';
import type { AptRepo } from '../helpers/aptrepo.js';
import { repoSources, useLocalRepo } from '../helpers/base-fixture.js';

/**
 * planBase and buildBase as a library, without the CLI, on the local signed apt repository of
 * test/helpers/base-fixture.ts: the static variant gives the digest `distill base` gives
 * (test/golden/base-local.json), from the plan or from the plan read back from JSON.
 */
const GOLDEN = fileURLToPath(new URL('../golden/base-local.json', import.meta.url));

describe('buildBase without the CLI', () => {
  const fx = useLocalRepo('distill-build-base-');
  const ready = (t: TestContext) => fx.ready(t);
  const world = (r: AptRepo, name: string, signal?: AbortSignal) =>
    repoSources(r, join(fx.dir, name, 'store'), signal);
  const request = (r: AptRepo, out: string): BaseRequest => ({
    config: { ...defaultBaseConfig('static'), suites: [r.suite], archs: ['amd64'] },
    outputs: [`oci:${out}:x`],
  });

  test('the static variant: the golden digest, from the plan and from its JSON', async (t) => {
    const r = await ready(t);
    if (!r) return;
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { static: string };
    const a = world(r, 'a');
    const plan = await planBase(request(r, join(fx.dir, 'a', 'out')), a.sources);
    assert.equal(plan.lock.request.variant, 'static');
    assert.ok(plan.lock.architectures.amd64?.some((p) => p.name === 'base-files'));
    assert.equal(plan.sourceDateEpoch, 0);
    const built = await buildBase(plan, a);
    assert.equal(built.artifact.manifest.digest, golden.static, 'test/golden/base-local.json');
    assert.deepEqual(
      built.outputs.map((o) => [o.ref, o.descriptor.digest]),
      [[`oci:${join(fx.dir, 'a', 'out')}:x`, golden.static]],
    );
    const b = world(r, 'b');
    const again = await buildBase(JSON.parse(JSON.stringify({ ...plan, outputs: [] })), b);
    assert.equal(again.artifact.manifest.digest, golden.static);
    assert.deepEqual(again.outputs, []);
  });

  test('a lockfile made for another request is refused; the default output names the variant', async (t) => {
    const r = await ready(t);
    if (!r) return;
    const a = world(r, 'lock');
    const plan = await planBase(request(r, join(fx.dir, 'lock', 'out')), a.sources);
    const debug = { ...request(r, ''), config: { ...request(r, '').config, debug: true } };
    await assert.rejects(
      planBase({ ...debug, lock: { lockfile: plan.lock, file: 'distill.lock.json' } }, a.sources),
      (e) =>
        isDistillError(e, 'LOCKFILE_INVALID') &&
        /distill\.lock\.json was made for static, not static --debug/.test(e.message),
    );
    const fromLock = await planBase(
      { config: request(r, '').config, lock: { lockfile: plan.lock, file: 'distill.lock.json' } },
      { lockBase: () => assert.fail('a plan from a lockfile resolves nothing') },
    );
    assert.deepEqual(fromLock.lock, plan.lock);
    assert.deepEqual(fromLock.outputs, ['oci:distill-static:latest']);
  });

  test('an abort stops the build before anything is written (ABORTED)', async (t) => {
    const r = await ready(t);
    if (!r) return;
    const controller = new AbortController();
    const a = world(r, 'abort', controller.signal);
    const out = join(fx.dir, 'abort', 'out');
    const plan = await planBase(request(r, out), a.sources);
    let fetched = 0;
    const building = buildBase(plan, {
      store: a.store,
      sources: {
        ...a.sources,
        // The first package fetched stops the build; the others see the abort.
        fetchDeb: async (p) => {
          if (fetched++ === 0) controller.abort(new Error('the test says stop'));
          return a.sources.fetchDeb(p);
        },
      },
      signal: controller.signal,
    });
    await assert.rejects(building, (e) => isDistillError(e, 'ABORTED'));
    assert.equal(existsSync(out), false, 'no image was written');
  });

  test('one base-lock record: a build uses it a day without the network; later the indexes decide', async (t) => {
    const r = await ready(t);
    if (!r) return;
    const { sources } = world(r, 'record');
    const config = request(r, '').config;
    const asked = (from: number) => r.log.slice(from).map((e) => e.url);
    let from = r.log.length;
    const first = await sources.lockAppBase(config);
    assert.ok(
      asked(from).some((u) => /Packages|by-hash/.test(u)),
      'the first resolution reads the indexes',
    );
    from = r.log.length;
    assert.deepEqual(await sources.lockAppBase(config), first);
    assert.deepEqual(asked(from), [], 'within a day: no request at all');
    from = r.log.length;
    assert.deepEqual(await sources.lockBase(config), first, 'distill base shares the record');
    assert.ok(
      asked(from).some((u) => /InRelease/.test(u)),
      'distill base checks the signed release',
    );
    assert.ok(!asked(from).some((u) => /Packages|by-hash/.test(u)), 'and reads no index that did not change');
    // Two days on: the build asks the archive again, finds the same indexes, keeps the lock and
    // may use it another day.
    const realNow = Date.now;
    Date.now = () => realNow() + 2 * 24 * 3600_000;
    try {
      from = r.log.length;
      assert.deepEqual(await sources.lockAppBase(config), first);
      assert.ok(
        asked(from).some((u) => /InRelease/.test(u)) && !asked(from).some((u) => /Packages|by-hash/.test(u)),
      );
      from = r.log.length;
      assert.deepEqual(await sources.lockAppBase(config), first);
      assert.deepEqual(asked(from), [], 'the record was renewed');
    } finally {
      Date.now = realNow;
    }
  });
});
