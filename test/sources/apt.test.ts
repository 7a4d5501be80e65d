import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { readDeb } from '../../src/debian/deb.js';
import { isDistillError } from '../../src/errors.js';
import { AptSource, readTrustedKeys, verifyInRelease } from '../../src/sources/apt/index.js';
import { Store } from '../../src/store/store.js';
import { type AptRepo, type FakePackage, generateTestKey, makeAptRepo } from '../helpers/aptrepo.js';
import { requireComponents, tempDir, which } from '../helpers/components.js';

const TOOLS = ['dpkg-deb', 'apt-ftparchive', 'gpg', 'xz'] as const;

const PACKAGES: FakePackage[] = [
  {
    name: 'hello',
    version: '1:2.10-3',
    depends: 'libfoo1 (>= 1.0), data-common',
    files: { 'usr/bin/hello': '#!/bin/sh\necho hello\n' },
    postinst: '#!/bin/sh\nexit 0\n',
  },
  {
    name: 'libfoo1',
    version: '1.2-1',
    multiArch: 'same',
    provides: 'libfoo',
    files: { 'usr/lib/libfoo.so.1': 'x' },
  },
  { name: 'data-common', version: '0.5', arch: 'all', files: { 'usr/share/data/readme': 'data' } },
];

async function freshStore(): Promise<Store> {
  return new Store(await tempDir('distill-apt-store-'));
}

/** No blob at all (or only `allowed`) and no temp file left. */
async function assertStoreClean(store: Store, allowed = 0): Promise<void> {
  const du = await store.du();
  assert.equal(du.blobs, allowed, `expected ${allowed} blobs in the store, found ${du.blobs}`);
  const tmp = await readdir(join(store.root, 'tmp')).catch(() => [] as string[]);
  assert.deepEqual(tmp, [], 'the store tmp/ directory is empty');
}

function source(
  repo: AptRepo,
  store: Store,
  extra: Partial<ConstructorParameters<typeof AptSource>[0]> = {},
) {
  return new AptSource({ mirror: repo.url, keys: [repo.publicKey], store, retryDelayMs: 5, ...extra });
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let available = true;

describe('AptSource against a signed test repository', { concurrency: false }, () => {
  let repo: AptRepo;
  const stores: Store[] = [];
  const newStore = async () => {
    const s = await freshStore();
    stores.push(s);
    return s;
  };

  before(async () => {
    available = TOOLS.every((t) => which(t) !== undefined);
    if (available) repo = await makeAptRepo({ packages: PACKAGES, extraSigners: 1 });
  });
  after(async () => {
    await repo?.stop();
    for (const s of stores) await rm(s.root, { recursive: true, force: true });
  });

  test('release() verifies InRelease and parses it', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const apt = source(repo, await newStore());
    const rel = await apt.release('testing');
    assert.equal(rel.suite, 'testing');
    assert.equal(rel.codename, 'testing');
    assert.equal(rel.version, '1.0');
    assert.equal(rel.acquireByHash, true);
    assert.deepEqual(rel.architectures, ['amd64']);
    assert.deepEqual(rel.components, ['main']);
    assert.equal(rel.mirror, repo.url);
    const xz = rel.files.get('main/binary-amd64/Packages.xz');
    assert.ok(xz, 'Packages.xz is listed');
    const bytes = await readFile(join(repo.dir, 'dists/testing/main/binary-amd64/Packages.xz'));
    assert.equal(xz.sha256, sha256(bytes));
    assert.equal(xz.size, bytes.length);
    assert.match(rel.date, /\d{4}/);
    // memoized: a second call makes no request
    const n = repo.log.length;
    assert.equal(await apt.release('testing'), rel);
    assert.equal(repo.log.length, n);
  });

  test('packages() lists the packages (arch:all included), fetched by hash into the store', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const store = await newStore();
    const apt = source(repo, store);
    repo.log.length = 0;
    const index = await apt.packages('testing', 'amd64');
    assert.equal(index.suite, 'testing');
    assert.deepEqual(index.packages.map((p) => p.name).sort(), ['data-common', 'hello', 'libfoo1']);
    const hello = index.packages.find((p) => p.name === 'hello')!;
    assert.equal(hello.version, '1:2.10-3');
    assert.equal(hello.filename, 'pool/main/hello_2.10-3_amd64.deb');
    assert.equal(hello.paragraph.get('Depends'), 'libfoo1 (>= 1.0), data-common');
    assert.equal(index.packages.find((p) => p.name === 'data-common')!.architecture, 'all');
    assert.equal(index.packages.find((p) => p.name === 'libfoo1')!.multiArch, 'same');
    const rel = await apt.release('testing');
    const hex = rel.files.get('main/binary-amd64/Packages.gz')!.sha256;
    assert.deepEqual(
      repo.log.map((e) => `${e.status} ${e.url}`),
      ['200 /dists/testing/InRelease', `200 /dists/testing/main/binary-amd64/by-hash/SHA256/${hex}`],
    );
    assert.ok(await store.has(`sha256:${hex}`), 'the index is in the store');
    // memoized per instance
    assert.deepEqual((await apt.packages('testing', 'amd64')).packages, index.packages);
    assert.equal(repo.log.length, 2);
    // a new instance on the same store downloads only InRelease
    repo.log.length = 0;
    const again = await source(repo, store).packages('testing', 'amd64');
    assert.equal(again.packages.length, 3);
    assert.deepEqual(
      repo.log.map((e) => e.url),
      ['/dists/testing/InRelease'],
    );
  });

  test('fetchDeb() stores the .deb verified; a second fetch does not touch the network', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const store = await newStore();
    const apt = source(repo, store);
    const hello = (await apt.packages('testing', 'amd64')).packages.find((p) => p.name === 'hello')!;
    const ref = {
      name: hello.name,
      version: hello.version,
      filename: hello.filename!,
      sha256: hello.sha256!,
      size: hello.size!,
      suite: 'testing',
    };
    repo.log.length = 0;
    const got = await apt.fetchDeb(ref);
    assert.equal(got.digest, `sha256:${hello.sha256}`);
    assert.equal(got.size, hello.size);
    const bytes = await store.readBytes(got.digest);
    assert.equal(sha256(bytes), hello.sha256, 'stored bytes hash to the Packages SHA256');
    assert.deepEqual(bytes, await readFile(repo.debPath('hello')));
    assert.deepEqual(
      repo.log.map((e) => `${e.status} ${e.url}`),
      ['200 /pool/main/hello_2.10-3_amd64.deb'],
    );
    const info = await readDeb(await store.open(got.digest, got.size));
    assert.equal(info.control.get('Package'), 'hello');
    assert.equal(info.scripts.postinst, '#!/bin/sh\nexit 0\n');
    // again, on another instance: a store hit, no request
    repo.log.length = 0;
    assert.deepEqual(await source(repo, store).fetchDeb(ref), got);
    assert.deepEqual(repo.log, []);
    assert.equal(apt.debUrl('testing', ref.filename), `${repo.url}/pool/main/hello_2.10-3_amd64.deb`);
  });

  test('a signature by an unknown key next to a trusted one is fine; either signer alone is trusted', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const text = await readFile(join(repo.dir, 'dists/testing/InRelease'), 'utf8');
    const url = `${repo.url}/dists/testing/InRelease`;
    const main = await verifyInRelease(text, await readTrustedKeys([repo.publicKey]), url);
    assert.equal(main.report.good.length, 1);
    assert.equal(main.report.unknown.length, 1);
    assert.match(main.signedText, /^Origin: distill-test$/m);
    assert.doesNotMatch(main.signedText, /PGP/);
    const extra = await verifyInRelease(text, await readTrustedKeys(repo.extraPublicKeys), url);
    assert.equal(extra.report.good.length, 1);
    const both = await verifyInRelease(
      text,
      await readTrustedKeys([repo.publicKey, ...repo.extraPublicKeys]),
      url,
    );
    assert.equal(both.report.good.length, 2);
  });

  test('a broken signature by a trusted key fails even next to a good one', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const text = await readFile(join(repo.dir, 'dists/testing/InRelease'), 'utf8');
    const msg = await openpgp.readCleartextMessage({ cleartextMessage: text });
    // openpgp.js types do not declare the parsed signature; it is there at run time
    const packets = (msg as unknown as { signature: { packets: unknown } }).signature.packets as {
      issuerKeyID: openpgp.KeyID;
      params: Record<string, Uint8Array> | Promise<Record<string, Uint8Array>>;
    }[];
    assert.equal(packets.length, 2);
    // break the signature value (not the quick-check bytes) of the extra signer's signature
    const extraKeys = await readTrustedKeys(repo.extraPublicKeys);
    const victim = packets.find((p) => extraKeys[0]!.getKeys(p.issuerKeyID).length > 0)!;
    const params = { ...(await victim.params) };
    const s = Uint8Array.from(params.s!);
    s[5] = s[5]! ^ 0x40;
    victim.params = { ...params, s };
    const broken = msg.armor();
    assert.notEqual(broken, text);
    const url = 'test://InRelease';
    const both = await readTrustedKeys([repo.publicKey, ...repo.extraPublicKeys]);
    await assert.rejects(verifyInRelease(broken, both, url), (e) => {
      assert.ok(isDistillError(e, 'APT_SIGNATURE_INVALID'), String(e));
      assert.match(e.message, /bad signature by trusted key/);
      return true;
    });
    // the broken signature's key not trusted: it is an unknown signature, the good one counts
    const ok = await verifyInRelease(broken, await readTrustedKeys([repo.publicKey]), url);
    assert.deepEqual([ok.report.good.length, ok.report.unknown.length], [1, 1]);
    await assert.rejects(verifyInRelease(broken, extraKeys, url), (e) =>
      isDistillError(e, 'APT_SIGNATURE_INVALID'),
    );
  });

  test('unsigned text around the signed message is refused', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const text = await readFile(join(repo.dir, 'dists/testing/InRelease'), 'utf8');
    const keys = await readTrustedKeys([repo.publicKey]);
    const url = 'test://InRelease';
    const cases = {
      'text before the header': `Suite: evil\n\n${text}`,
      'text after the signature': `${text}\nSuite: evil\n`,
      'a second signed message': `${text}${text}`,
      'no signature at all': (await readFile(join(repo.dir, 'dists/testing/Release'), 'utf8')).toString(),
    };
    for (const [name, input] of Object.entries(cases)) {
      await assert.rejects(
        verifyInRelease(input, keys, url),
        (e) => isDistillError(e, 'APT_SIGNATURE_INVALID'),
        name,
      );
    }
  });

  test('by-hash 404 falls back to the plain path', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const r = await makeAptRepo({ packages: PACKAGES.slice(1) });
    try {
      await rm(join(r.dir, 'dists/testing/main/binary-amd64/by-hash'), { recursive: true });
      const index = await source(r, await newStore()).packages('testing', 'amd64');
      assert.deepEqual(index.packages.map((p) => p.name).sort(), ['data-common', 'libfoo1']);
      assert.deepEqual(
        r.log.map((e) => e.status),
        [200, 404, 200],
      );
      assert.equal(r.log[2]!.url, '/dists/testing/main/binary-amd64/Packages.gz');
    } finally {
      await r.stop();
    }
  });

  for (const format of ['.xz', ''] as const) {
    test(`a Release without Packages.gz: Packages${format} is used`, async (t) => {
      if (!requireComponents(t, ...TOOLS)) return;
      const r = await makeAptRepo({ packages: PACKAGES, indexFormats: [format], byHash: false });
      try {
        const apt = source(r, await newStore());
        const rel = await apt.release('testing');
        assert.equal(rel.acquireByHash, false);
        assert.equal(rel.files.has('main/binary-amd64/Packages.gz'), false);
        const index = await apt.packages('testing', 'amd64');
        assert.deepEqual(index.packages.map((p) => p.name).sort(), ['data-common', 'hello', 'libfoo1']);
        assert.deepEqual(
          r.log.map((e) => `${e.status} ${e.url}`),
          ['200 /dists/testing/InRelease', `200 /dists/testing/main/binary-amd64/Packages${format}`],
        );
      } finally {
        await r.stop();
      }
    });
  }

  test('a connection cut mid-download is retried; the store keeps only the good blob', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    let cut = 0;
    const cutting: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).includes('/pool/') || cut++ > 0) return res;
      // the first .deb download breaks after 100 bytes, like a reset connection
      const reader = res.body!.getReader();
      const first = await reader.read();
      await reader.cancel();
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          c.enqueue(first.value!.subarray(0, 100));
        },
        pull(c) {
          c.error(Object.assign(new TypeError('terminated'), { cause: { code: 'ECONNRESET' } }));
        },
      });
      return new Response(body, { status: 200 });
    };
    const store = await newStore();
    const apt = source(repo, store, { fetchImpl: cutting });
    const hello = (await apt.packages('testing', 'amd64')).packages.find((p) => p.name === 'hello')!;
    const got = await apt.fetchDeb({
      name: hello.name,
      version: hello.version,
      filename: hello.filename!,
      sha256: hello.sha256!,
      size: hello.size!,
      suite: 'testing',
    });
    assert.equal(cut, 2, 'downloaded twice');
    assert.equal(sha256(await store.readBytes(got.digest)), hello.sha256);
    await assertStoreClean(store, 2); // the index and the .deb
  });

  test('an index that went bad in the store is downloaded again', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const store = await newStore();
    await source(repo, store).packages('testing', 'amd64');
    const rel = await source(repo, store).release('testing');
    const digest = `sha256:${rel.files.get('main/binary-amd64/Packages.gz')!.sha256}` as const;
    // same size, different bytes: the xz decoder or the store's check notices, whichever first
    const good = await readFile(store.blobPath(digest));
    await writeFile(store.blobPath(digest), Buffer.alloc(good.length, 0x5a));
    repo.log.length = 0;
    const index = await source(repo, store).packages('testing', 'amd64');
    assert.equal(index.packages.length, 3);
    assert.equal(repo.log.filter((e) => e.url.includes('by-hash')).length, 1, 'downloaded again');
    assert.equal(sha256(await store.readBytes(digest)), digest.slice(7));
  });

  test('mirror choice and pool URLs', () => {
    const store = new Store('/nonexistent');
    const def = new AptSource({ store });
    assert.equal(def.mirrorFor('trixie'), 'http://deb.debian.org/debian');
    assert.equal(def.mirrorFor('trixie-security'), 'http://deb.debian.org/debian-security');
    const one = new AptSource({ store, mirror: 'http://mirror.example/debian/' });
    assert.equal(one.mirrorFor('trixie-security'), 'http://mirror.example/debian');
    const two = new AptSource({ store, mirror: 'http://m/debian', securityMirror: 'http://s/sec' });
    assert.equal(two.mirrorFor('trixie-security'), 'http://s/sec');
    assert.equal(two.debUrl('trixie', 'pool/main/a/a_1_all.deb'), 'http://m/debian/pool/main/a/a_1_all.deb');
    assert.equal(two.debUrl('trixie-security', 'pool/updates/x.deb'), 'http://s/sec/pool/updates/x.deb');
    for (const bad of ['../etc/passwd', 'pool/../../x.deb', '/abs.deb', 'http://evil/x.deb']) {
      assert.throws(
        () => two.debUrl('trixie', bad),
        (e) => isDistillError(e, 'DEB822_INVALID'),
        bad,
      );
    }
    assert.throws(
      () => two.debUrl('../x', 'pool/a.deb'),
      (e) => isDistillError(e, 'USAGE'),
    );
  });

  test('5xx answers are retried', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls++;
      if (calls <= 2) return new Response('busy', { status: 503, statusText: 'Service Unavailable' });
      return fetch(input, init);
    };
    const rel = await source(repo, await newStore(), { fetchImpl: flaky }).release('testing');
    assert.equal(rel.suite, 'testing');
    assert.equal(calls, 3);
    let always = 0;
    const down: typeof fetch = async () => {
      always++;
      return new Response('down', { status: 502 });
    };
    await assert.rejects(source(repo, await newStore(), { fetchImpl: down }).release('testing'), (e) =>
      isDistillError(e, 'HTTP'),
    );
    assert.equal(always, 4, 'one attempt and three retries');
  });

  test('an unknown suite is NOT_FOUND naming the URL', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    await assert.rejects(source(repo, await newStore()).release('nosuch'), (e) => {
      assert.ok(isDistillError(e, 'NOT_FOUND'));
      assert.match(e.message, /\/dists\/nosuch\/InRelease/);
      assert.match(e.message, /suite name/);
      return true;
    });
  });

  test('a genuine Release served for another suite is refused', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    await cp(join(repo.dir, 'dists/testing'), join(repo.dir, 'dists/stable'), { recursive: true });
    try {
      await assert.rejects(source(repo, await newStore()).release('stable'), (e) =>
        isDistillError(e, 'APT_RELEASE_INVALID'),
      );
    } finally {
      await rm(join(repo.dir, 'dists/stable'), { recursive: true });
    }
  });

  test('an architecture the Release does not list is APT_INDEX_MISSING', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const store = await newStore();
    await assert.rejects(source(repo, store).packages('testing', 'arm64'), (e) =>
      isDistillError(e, 'APT_INDEX_MISSING'),
    );
    await assertStoreClean(store);
  });
});

describe('AptSource faults: each has its code and leaves nothing in the store', {
  concurrency: false,
}, () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup) await c();
  });
  const setup = async (opts: { validUntil?: string } = {}) => {
    const repo = await makeAptRepo({ packages: PACKAGES, ...opts });
    const store = await freshStore();
    cleanup.push(
      () => repo.stop(),
      () => rm(store.root, { recursive: true, force: true }),
    );
    return { repo, store };
  };

  test('tampered InRelease: APT_SIGNATURE_INVALID', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const { repo, store } = await setup();
    await repo.tamperInRelease();
    await assert.rejects(source(repo, store).packages('testing', 'amd64'), (e) => {
      assert.ok(isDistillError(e, 'APT_SIGNATURE_INVALID'), String(e));
      assert.ok(e.message.includes(`${repo.url}/dists/testing/InRelease`), e.message);
      assert.match(e.message, /--mirror/);
      assert.match(e.message, /update-debian-keys/);
      assert.match(e.message, /--keyring/);
      return true;
    });
    await assertStoreClean(store);
  });

  test('a key that did not sign: APT_SIGNATURE_INVALID', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const { repo, store } = await setup();
    const other = await generateTestKey();
    await assert.rejects(source(repo, store, { keys: [other] }).release('testing'), (e) => {
      assert.ok(isDistillError(e, 'APT_SIGNATURE_INVALID'), String(e));
      assert.match(e.message, /no signature by a trusted key/);
      return true;
    });
    await assertStoreClean(store);
  });

  test('Packages index changed after signing: APT_INDEX_HASH_MISMATCH', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const { repo, store } = await setup();
    await repo.corruptPackagesIndex();
    await assert.rejects(source(repo, store).packages('testing', 'amd64'), (e) => {
      assert.ok(isDistillError(e, 'APT_INDEX_HASH_MISMATCH'), String(e));
      assert.match(e.message, /main\/binary-amd64\/Packages\.gz/);
      assert.ok(e.message.includes(repo.url), e.message);
      return true;
    });
    await assertStoreClean(store);
  });

  test('.deb changed after indexing: APT_DEB_HASH_MISMATCH', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const { repo, store } = await setup();
    const apt = source(repo, store);
    const libfoo = (await apt.packages('testing', 'amd64')).packages.find((p) => p.name === 'libfoo1')!;
    await repo.corruptDeb('libfoo1');
    await assert.rejects(
      apt.fetchDeb({
        name: libfoo.name,
        version: libfoo.version,
        filename: libfoo.filename!,
        sha256: libfoo.sha256!,
        size: libfoo.size!,
        suite: 'testing',
      }),
      (e) => {
        assert.ok(isDistillError(e, 'APT_DEB_HASH_MISMATCH'), String(e));
        assert.match(e.message, /libfoo1 1\.2-1/);
        assert.ok(e.message.includes(`${repo.url}/pool/main/libfoo1_1.2-1_amd64.deb`), e.message);
        return true;
      },
    );
    assert.equal(await store.has(`sha256:${libfoo.sha256}`), false, 'no blob of the bad .deb');
    await assertStoreClean(store, 1); // only the (good) Packages index
  });

  test('expired Valid-Until: APT_RELEASE_EXPIRED, unless ignoreValidUntil', async (t) => {
    if (!requireComponents(t, ...TOOLS)) return;
    const { repo, store } = await setup({ validUntil: 'Sat, 01 Jan 2022 00:00:00 UTC' });
    await assert.rejects(source(repo, store).release('testing'), (e) => {
      assert.ok(isDistillError(e, 'APT_RELEASE_EXPIRED'), String(e));
      assert.match(e.message, /Sat, 01 Jan 2022 00:00:00 UTC/);
      return true;
    });
    const rel = await source(repo, store, { ignoreValidUntil: true }).release('testing');
    assert.equal(rel.validUntil, 'Sat, 01 Jan 2022 00:00:00 UTC');
    const before = await source(repo, store, { now: () => new Date('2021-12-31T00:00:00Z') }).release(
      'testing',
    );
    assert.equal(before.suite, 'testing');
    await assertStoreClean(store);
  });
});
