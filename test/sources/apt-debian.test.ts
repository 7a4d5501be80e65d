/**
 * Against the real Debian archive (deb.debian.org over HTTP), with the keys shipped in keys/.
 * When the archive is unreachable these tests skip with the reason, except under CI=true.
 */
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, type TestContext, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { AptSource, DEFAULT_MIRROR, loadDefaultKeys } from '../../src/sources/apt/index.js';
import { Store } from '../../src/store/store.js';
import { IN_CI, tempDir } from '../helpers/components.js';

let unreachable: string | undefined;

async function probe(): Promise<string | undefined> {
  try {
    const res = await fetch(`${DEFAULT_MIRROR}/dists/trixie/InRelease`, {
      method: 'HEAD',
      signal: AbortSignal.timeout(15_000),
    });
    return res.ok ? undefined : `${DEFAULT_MIRROR} answered ${res.status}`;
  } catch (err) {
    return `${DEFAULT_MIRROR} is unreachable: ${(err as Error).message}`;
  }
}

function requireArchive(t: TestContext): boolean {
  if (unreachable === undefined) return true;
  if (IN_CI) throw new Error(`CI=true and the Debian archive is needed: ${unreachable}`);
  t.skip(unreachable);
  return false;
}

describe('AptSource against deb.debian.org', { concurrency: false }, () => {
  let store: Store;
  before(async () => {
    unreachable = await probe();
    store = new Store(await tempDir('distill-apt-debian-'));
  });
  after(async () => {
    await rm(store.root, { recursive: true, force: true });
  });

  test('trixie InRelease verifies with the shipped keys: Debian 13.x', async (t) => {
    if (!requireArchive(t)) return;
    const apt = new AptSource({ store });
    const rel = await apt.release('trixie');
    assert.equal(rel.codename, 'trixie');
    assert.match(rel.version ?? '', /^13\.\d+$/);
    assert.equal(rel.mirror, DEFAULT_MIRROR);
    assert.equal(rel.acquireByHash, true);
    assert.ok(rel.architectures.includes('amd64') && rel.architectures.includes('arm64'));
    assert.ok(rel.files.has('main/binary-amd64/Packages.xz'));
  });

  test('trixie-security (security mirror), trixie-updates and bookworm verify too', async (t) => {
    if (!requireArchive(t)) return;
    const apt = new AptSource({ store });
    const sec = await apt.release('trixie-security');
    assert.equal(sec.codename, 'trixie-security');
    assert.equal(sec.mirror, 'http://deb.debian.org/debian-security');
    assert.ok(sec.files.has('main/binary-amd64/Packages.xz'));
    assert.equal((await apt.release('trixie-updates')).codename, 'trixie-updates');
    const bookworm = await apt.release('bookworm');
    assert.match(bookworm.version ?? '', /^12\.\d+$/);
  });

  test("packages('trixie', 'amd64') holds libc6 and arch:all packages", async (t) => {
    if (!requireArchive(t)) return;
    const progress: number[] = [];
    const apt = new AptSource({ store, onProgress: (e) => progress.push(e.done) });
    const t0 = performance.now();
    const index = await apt.packages('trixie', 'amd64');
    t.diagnostic(
      `trixie main amd64: ${index.packages.length} packages in ${Math.round(performance.now() - t0)} ms`,
    );
    assert.equal(index.suite, 'trixie');
    assert.ok(index.packages.length > 50_000, `${index.packages.length} packages`);
    const libc6 = index.packages.find((p) => p.name === 'libc6');
    assert.ok(libc6, 'libc6 is there');
    assert.equal(libc6.architecture, 'amd64');
    assert.match(libc6.filename ?? '', /^pool\/main\/g\/glibc\/libc6_.*_amd64\.deb$/);
    assert.match(libc6.sha256 ?? '', /^[0-9a-f]{64}$/);
    assert.ok(
      index.packages.some((p) => p.architecture === 'all'),
      'arch:all packages are listed',
    );
    assert.ok(progress.length > 1 && progress.at(-1)! > 1_000_000, 'progress was reported');
  });

  test('one changed byte in the real InRelease fails verification', async (t) => {
    if (!requireArchive(t)) return;
    const real = await (await fetch(`${DEFAULT_MIRROR}/dists/trixie/InRelease`)).text();
    const at = real.indexOf('Codename: trixie');
    assert.ok(at > 0);
    // "trixie" -> "trixiE": a byte of the signed body; everything else, signatures included, as served
    const tampered = `${real.slice(0, at + 15)}E${real.slice(at + 16)}`;
    assert.equal(tampered.length, real.length);
    const served: string[] = [];
    const server = createServer((req, res) => {
      served.push(req.url ?? '');
      if (req.url === '/debian/dists/trixie/InRelease') res.writeHead(200).end(tampered);
      else if (req.url === '/debian/dists/bookworm/InRelease') res.writeHead(200).end(real);
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/debian`;
      const keys = await loadDefaultKeys();
      const apt = new AptSource({ store, mirror, keys });
      await assert.rejects(apt.release('trixie'), (e) => {
        assert.ok(isDistillError(e, 'APT_SIGNATURE_INVALID'), String(e));
        assert.ok(e.message.includes(`${mirror}/dists/trixie/InRelease`));
        return true;
      });
      // the same bytes unchanged verify (served under another name: refused as a replay)
      await assert.rejects(apt.release('bookworm'), (e) => isDistillError(e, 'APT_RELEASE_INVALID'));
      assert.deepEqual(served, ['/debian/dists/trixie/InRelease', '/debian/dists/bookworm/InRelease']);
    } finally {
      server.close();
    }
  });
});
