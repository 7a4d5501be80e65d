import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { SlsaProvenance, Statement } from '../../src/attest/index.js';
import { buildBase } from '../../src/build/base/index.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import { defaultBaseConfig } from '../../src/plan/base.js';
import { planBase } from '../../src/plan/base-plan.js';
import { formatLockfile, type Lockfile, readLockfile } from '../../src/plan/lockfile.js';
import { parseImageRef } from '../../src/ref/transport.js';
import type { AptRepo } from '../helpers/aptrepo.js';
import { lockStatic, repoSources, staticDigest, useLocalRepo } from '../helpers/base-fixture.js';
import { readAll } from '../helpers/registry-images.js';

/**
 * Each suite's InRelease digest (issue 16, provenance): the SHA-256 of the InRelease whose
 * signature was verified, kept in the lock where the resolution happens, so that a build from the
 * lock, a warm build and a cache hit name it in the provenance. A lock written before it was kept
 * is still read and builds the same image (the golden digest).
 */
const GOLDEN = fileURLToPath(new URL('../golden/base-local.json', import.meta.url));
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe('InRelease digests in the lock and the provenance', () => {
  const fx = useLocalRepo('distill-inrelease-');
  const ready = (t: TestContext) => fx.ready(t);
  /** The bytes the repository serves as the suite's InRelease. */
  const served = async (r: AptRepo) =>
    Buffer.from(await (await fetch(`${r.url}/dists/${r.suite}/InRelease`)).arrayBuffer());

  /** `distill base static --attest provenance` from `lock` (a library build); its statement. */
  async function provenanceOf(r: AptRepo, name: string, lock?: Lockfile) {
    const { store, sources } = repoSources(r, join(fx.dir, name, 'store'));
    const out = `oci:${join(fx.dir, name, 'out')}:x`;
    const config = { ...defaultBaseConfig('static'), suites: [r.suite], archs: ['amd64'] };
    const plan = await planBase(
      { config, outputs: [out], ...(lock && { lock: { lockfile: lock, file: 'old.lock.json' } }) },
      sources,
    );
    const built = await buildBase(plan, {
      store,
      sources,
      attest: { provenance: true, request: { command: 'base' } },
    });
    const digest = built.artifact.manifest.digest;
    const found = await listReferrers(parseImageRef(out), digest);
    const referrer = await openReferrer(parseImageRef(out), found[0]!);
    const text = await readAll(await referrer.blobs[1]!.open());
    const statement = JSON.parse(text.toString()) as Statement<SlsaProvenance>;
    const inRelease = statement.predicate.buildDefinition.resolvedDependencies.find((d) =>
      d.uri?.endsWith('/InRelease'),
    );
    return { plan, digest, inRelease };
  }

  test('distill lock keeps the SHA-256 of the InRelease it verified; the provenance names it', async (t) => {
    const r = await ready(t);
    if (!r) return;
    const want = sha256(await served(r));
    const file = join(fx.dir, 'distill.lock.json');
    const keyring = fx.keyring();
    await lockStatic(r, keyring, file, join(fx.dir, 'lock-cache'));
    const lock = await readLockfile(file);
    assert.equal(lock.suites[0]!.inReleaseSha256, want, 'the lock names the InRelease served');

    const fresh = await provenanceOf(r, 'fresh');
    assert.equal(fresh.plan.lock.suites[0]!.inReleaseSha256, want);
    assert.deepEqual(fresh.inRelease?.digest, { sha256: want });
    assert.equal(fresh.inRelease?.annotations?.date, lock.suites[0]!.date);
    const fromLock = await provenanceOf(r, 'from-lock', lock);
    assert.deepEqual(fromLock.inRelease, fresh.inRelease, 'a build from the lock names the same file');
  });

  test('a lock written before the digest was kept is read and builds the golden image', async (t) => {
    const r = await ready(t);
    if (!r) return;
    const golden = JSON.parse(await readFile(GOLDEN, 'utf8')) as { static: string };
    const file = join(fx.dir, 'new.lock.json');
    const keyring = fx.keyring();
    await lockStatic(r, keyring, file, join(fx.dir, 'old-cache'));
    const lock = await readLockfile(file);
    // What an older distill wrote: the same lock without the field.
    const old: Lockfile = { ...lock, suites: lock.suites.map(({ inReleaseSha256: _d, ...s }) => s) };
    const oldFile = join(fx.dir, 'old.lock.json');
    await writeFile(oldFile, formatLockfile(old));
    assert.doesNotMatch(await readFile(oldFile, 'utf8'), /inReleaseSha256/);
    assert.equal(await staticDigest(r, keyring, oldFile, join(fx.dir, 'old-build')), golden.static);
    assert.equal(await staticDigest(r, keyring, file, join(fx.dir, 'new-build')), golden.static);

    const p = await provenanceOf(r, 'old-prov', await readLockfile(oldFile));
    assert.equal(p.digest, golden.static);
    assert.equal(p.inRelease?.digest, undefined, 'no digest is made up for an old lock');
    assert.equal(p.inRelease?.annotations?.date, lock.suites[0]!.date);
  });

  test('a remembered lock without the digests is resolved again', async (t) => {
    const r = await ready(t);
    if (!r) return;
    const { store, sources } = repoSources(r, join(fx.dir, 'remembered', 'store'));
    const config = { ...defaultBaseConfig('static'), suites: [r.suite], archs: ['amd64'] };
    const first = await sources.lockAppBase(config);
    assert.ok(first.suites[0]!.inReleaseSha256);
    // Rewrite the record as an older distill left it: the same lock, no digests. The key is the
    // request and its mirrors (build/sources.ts lockParts); it must name the record just written.
    const records = store.record('base-lock');
    const parts = {
      variant: config.variant,
      packages: config.packages,
      debug: config.debug,
      archs: config.archs,
      suites: config.suites,
      node: null,
      mirrors: [r.url],
    };
    const value = await records.get(parts);
    assert.deepEqual(value?.lock, first, 'the record the test rewrites');
    const stripped = { ...first, suites: first.suites.map(({ inReleaseSha256: _d, ...s }) => s) };
    await records.put(parts, { indexes: value!.indexes, lock: stripped });
    assert.deepEqual((await records.get(parts))?.lock, stripped);
    const again = await sources.lockAppBase(config);
    assert.deepEqual(again, first, 'resolved again, with the digests');
    assert.deepEqual((await records.get(parts))?.lock, first, 'and remembered with them');
    assert.equal(again.suites[0]!.inReleaseSha256, first.suites[0]!.inReleaseSha256);
  });
});
