import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as tar from 'tar-stream';
import { isDistillError } from '../../src/errors.js';
import { hostPlatform } from '../../src/host.js';
import { fetchPackageManager, nativePnpm } from '../../src/sources/node/pm.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';
import { gzip, sha, startFakeServer } from '../helpers/node-mirror.js';

/**
 * pnpm 12 is a native executable: distill fetches `@pnpm/exe.linux-<cpu>` (the machine's), checks
 * it against the registry's integrity, and runs its `pnpm` as it is. Served here by a fake
 * registry whose executable is a shell script.
 */
const PKG = nativePnpm('pnpm', '12.26.0')!;
const EXE = '#!/bin/sh\necho "pnpm native 12.26.0 $*"\n';

async function exeTarball(): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack) chunks.push(Buffer.from(c as Uint8Array));
  })();
  pack.entry(
    { name: 'package/package.json', mode: 0o644 },
    JSON.stringify({ name: PKG, version: '12.26.0' }),
  );
  pack.entry({ name: 'package/pnpm', mode: 0o755 }, EXE);
  pack.finalize();
  await done;
  return gzip(Buffer.concat(chunks));
}

describe('pnpm 12: the native executable of the machine', () => {
  let dir = '';
  before(async () => {
    dir = await tempDir('distill-pnpm12-');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('which package: the machine is linux on x64 or arm64; pnpm 11 and npm have none', () => {
    assert.equal(PKG, `@pnpm/exe.linux-${hostPlatform().architecture === 'arm64' ? 'arm64' : 'x64'}`);
    assert.equal(nativePnpm('pnpm', '11.29.0'), undefined);
    assert.equal(nativePnpm('npm', '12.0.0'), undefined);
  });

  test('fetched, verified and run as it is; a tarball that does not match its integrity is refused and leaves nothing', async () => {
    const tgz = await exeTarball();
    const srv = await startFakeServer({
      '/exe.tgz': tgz,
      '/bad.tgz': Buffer.concat([tgz, Buffer.from('x')]),
    });
    const path = `/${PKG.replace('/', '%2f')}`;
    const packument = (tarball: string) =>
      JSON.stringify({
        name: PKG,
        'dist-tags': { latest: '12.26.0' },
        versions: {
          '12.26.0': {
            name: PKG,
            version: '12.26.0',
            dist: {
              tarball: `${srv.url}${tarball}`,
              integrity: `sha512-${sha('sha512', tgz).toString('base64')}`,
            },
          },
        },
      });
    try {
      srv.routes.set(path, packument('/bad.tgz'));
      const bad = new Store(join(dir, 'bad'));
      await assert.rejects(
        fetchPackageManager('pnpm', '12.26.0', '26.0.0', { store: bad, registry: srv.url }),
        (e) => isDistillError(e, 'NODE_INTEGRITY_MISMATCH'),
      );
      assert.equal(existsSync(join(bad.root, 'toolchains')), false, 'nothing extracted');
      assert.deepEqual(await readdir(join(bad.root, 'tmp')).catch(() => []), []);

      srv.routes.set(path, packument('/exe.tgz'));
      const store = new Store(join(dir, 'good'));
      const tool = await fetchPackageManager('pnpm', '12.26.0', '26.0.0', { store, registry: srv.url });
      assert.equal(tool.exec, join(store.root, 'toolchains', `${PKG.replace('/', '+')}-12.26.0`, 'pnpm'));
      assert.equal(
        execFileSync(tool.exec!, ['--version'], { encoding: 'utf8' }),
        'pnpm native 12.26.0 --version\n',
      );
      // No second download.
      const n = srv.requests.length;
      assert.deepEqual(
        await fetchPackageManager('pnpm', '12.26.0', '26.0.0', { store, registry: srv.url }),
        tool,
      );
      assert.equal(srv.requests.length, n);

      srv.routes.set(path, JSON.stringify({ name: PKG, versions: {} }));
      await assert.rejects(
        fetchPackageManager('pnpm', '12.25.0', '26.0.0', { store, registry: srv.url }),
        (e) => isDistillError(e, 'PACKAGE_MANAGER_UNKNOWN') && /pin another pnpm/.test((e as Error).message),
      );
    } finally {
      await srv.close();
    }
  });
});
