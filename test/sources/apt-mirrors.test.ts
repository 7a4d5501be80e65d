import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import type { BinaryPackage } from '../../src/debian/resolver.js';
import { isDistillError } from '../../src/errors.js';
import { AptSource, type DebRef } from '../../src/sources/apt/index.js';
import { Store } from '../../src/store/store.js';
import { type AptRepo, makeAptRepo } from '../helpers/aptrepo.js';
import { freePort, requireComponents, tempDir, which } from '../helpers/components.js';

/**
 * AptSource with a mirror per suite: each suite's InRelease, indexes and .debs come from the
 * mirror chosen for that suite, and a failing mirror is named with its suite.
 */
const TOOLS = ['dpkg-deb', 'apt-ftparchive', 'gpg', 'xz'] as const;

const debRef = (p: BinaryPackage, suite: string): DebRef => ({
  name: p.name,
  version: p.version,
  filename: p.filename!,
  sha256: p.sha256!,
  size: p.size!,
  suite,
});

test('mirrorFor and debUrl: the per-suite map first, then the default and the Debian defaults', () => {
  const store = new Store('/nonexistent');
  const apt = new AptSource({
    store,
    mirrors: { trixie: 'http://a.example/debian/', 'trixie-security': 'http://b.example/sec' },
  });
  assert.equal(apt.mirrorFor('trixie'), 'http://a.example/debian');
  assert.equal(apt.mirrorFor('trixie-security'), 'http://b.example/sec');
  assert.equal(apt.mirrorFor('trixie-updates'), 'http://deb.debian.org/debian');
  assert.equal(apt.mirrorFor('bookworm-security'), 'http://deb.debian.org/debian-security');
  assert.equal(
    apt.debUrl('trixie-security', 'pool/updates/main/o/openssl/libssl3t64_3.5.10-1~deb13u1_amd64.deb'),
    'http://b.example/sec/pool/updates/main/o/openssl/libssl3t64_3.5.10-1~deb13u1_amd64.deb',
  );
  assert.equal(
    apt.debUrl('trixie', 'pool/main/a/a_1_all.deb'),
    'http://a.example/debian/pool/main/a/a_1_all.deb',
  );
  const withDefault = new AptSource({
    store,
    mirror: 'http://m/debian',
    mirrors: { 'trixie-security': 'http://s' },
  });
  assert.equal(withDefault.mirrorFor('trixie'), 'http://m/debian');
  assert.equal(withDefault.mirrorFor('trixie-updates'), 'http://m/debian');
  assert.equal(withDefault.mirrorFor('trixie-security'), 'http://s');
});

describe('AptSource against two origins, one suite each', { concurrency: false }, () => {
  let main: AptRepo | undefined;
  let security: AptRepo | undefined;
  const dirs: string[] = [];
  const newStore = async () => {
    const d = await tempDir('distill-apt-mirrors-');
    dirs.push(d);
    return new Store(d);
  };
  const source = async (mirrors: Record<string, string>) =>
    new AptSource({
      store: await newStore(),
      mirrors,
      keys: [main!.publicKey, security!.publicKey],
      retries: 1,
      retryDelayMs: 5,
    });

  before(async () => {
    if (!TOOLS.every((t) => which(t))) return;
    main = await makeAptRepo({
      suite: 'testing',
      packages: [{ name: 'libfoo1', version: '1.0', files: { 'usr/lib/libfoo.so.1': 'x' } }],
    });
    security = await makeAptRepo({
      suite: 'testing-security',
      packages: [{ name: 'libfoo1', version: '1.0+sec1', files: { 'usr/lib/libfoo.so.1': 'fixed' } }],
    });
  });
  after(async () => {
    await main?.stop();
    await security?.stop();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  test('each suite: InRelease, index and .deb from its own origin, nothing from the other', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const apt = await source({ testing: main!.url, 'testing-security': security!.url });
    const [a, b] = await Promise.all([apt.release('testing'), apt.release('testing-security')]);
    assert.equal(a.mirror, main!.url);
    assert.equal(b.mirror, security!.url);
    const idx = await apt.packages('testing-security', 'amd64');
    const p = idx.packages.find((x) => x.name === 'libfoo1')!;
    assert.equal(p.version, '1.0+sec1');
    await apt.fetchDeb(debRef(p, 'testing-security'));
    const mainUrls = main!.log.map((e) => e.url);
    const secUrls = security!.log.map((e) => e.url);
    assert.ok(secUrls.includes('/dists/testing-security/InRelease'), secUrls.join(' '));
    assert.ok(secUrls.some((u) => u.startsWith('/dists/testing-security/main/binary-amd64/')));
    assert.ok(secUrls.includes(`/${p.filename}`), secUrls.join(' '));
    assert.ok(
      mainUrls.every((u) => !u.includes('testing-security') && !u.includes('sec1')),
      `the first origin saw nothing of the security suite: ${mainUrls.join(' ')}`,
    );
    assert.ok(
      secUrls.every((u) => !u.includes('/dists/testing/')),
      secUrls.join(' '),
    );
  });

  test('a mirror that refuses connections: NETWORK naming the suite, the mirror and --mirror SUITE=URL', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const down = `http://127.0.0.1:${await freePort()}`;
    const apt = await source({ testing: main!.url, 'testing-security': down });
    await apt.release('testing');
    await assert.rejects(apt.release('testing-security'), (e) => {
      assert.ok(isDistillError(e, 'NETWORK'), String(e));
      assert.ok(
        e.message.startsWith(`testing-security from ${down}: could not download ${down}/dists/`),
        e.message,
      );
      assert.match(e.message, /ECONNREFUSED/);
      assert.match(e.message, /--mirror testing-security=URL/);
      return true;
    });
  });

  test('a .deb its suite mirror does not have: NOT_FOUND naming the suite and that mirror', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    // the .deb of the security suite asked from the main origin (where the pool lacks it)
    const apt = await source({ testing: main!.url, 'testing-security': main!.url });
    const p = (
      await (await source({ 'testing-security': security!.url })).packages('testing-security', 'amd64')
    ).packages[0]!;
    await assert.rejects(apt.fetchDeb(debRef(p, 'testing-security')), (e) => {
      assert.ok(isDistillError(e, 'NOT_FOUND'), String(e));
      assert.ok(e.message.startsWith(`testing-security from ${main!.url}: `), e.message);
      assert.match(e.message, /answered 404 Not Found/);
      assert.match(e.message, /--mirror testing-security=URL/);
      return true;
    });
  });
});
