import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { appendFile, cp, readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { AttestOptions } from '../../src/build/attest.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { sbomForApp } from '../../src/sbom/build.js';
import { npmPackagesFromLockfile } from '../../src/sbom/npm.js';
import { buildOffline, HELLO_OFFLINE, offlineReady, useOfflineWorld } from '../helpers/app-fixture.js';
import { readAll } from '../helpers/registry-images.js';
import { assertValidCycloneDx, assertValidSpdx } from '../sbom/helpers.js';

/**
 * `--attest sbom` remembers the SBOM's documents (decision 0032): a code-only rebuild fills in
 * the remembered template, and gives the bytes a build with an empty store gives.
 */
const SBOM: AttestOptions = { sbom: true };
const TYPES = ['application/spdx+json', 'application/vnd.cyclonedx+json'];

async function sbomsOf(layout: string, subject: string): Promise<string[]> {
  const ref = parseImageRef(`oci:${layout}:latest`);
  const out: string[] = [];
  for (const type of TYPES) {
    const found = (await listReferrers(ref, subject as never)).filter((d) => d.artifactType === type);
    assert.equal(found.length, 1, `one ${type} of ${subject}`);
    const r = await openReferrer(ref, found[0]!);
    out.push((await readAll(await r.blobs.find((b) => b.descriptor.mediaType === type)!.open())).toString());
  }
  return out;
}

/** The store's app-sbom records: file name -> when each was written. */
async function sbomRecords(store: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const name of await readdir(join(store, 'meta'))) {
    const file = JSON.parse(await readFile(join(store, 'meta', name), 'utf8')) as {
      kind?: string;
      at: number;
    };
    if (file.kind === 'app-sbom') out.set(name, file.at);
  }
  return out;
}

describe('the SBOM of a code-only rebuild, remembered', () => {
  const fx = useOfflineWorld('distill-sbom-record-');

  test('filled in from the record: the bytes of an empty store; a new lockfile or a lost blob is a miss', {
    timeout: 15 * 60_000,
  }, async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const dir = fx.dir;
    const app = join(dir, 'app');
    await cp(HELLO_OFFLINE, app, { recursive: true });
    const warm = join(dir, 'warm');
    const store = join(warm, 'store');
    const build = (where: string) => buildOffline(world, app, where, {}, {}, { attest: SBOM });

    await build(warm);
    const first = await sbomRecords(store);
    assert.equal(first.size, 1, 'the first build remembers its SBOM');

    // A code change: the app layer and the image change, the record answers.
    await appendFile(join(app, 'index.js'), '// a code change\n');
    const b = await build(warm);
    assert.deepEqual(await sbomRecords(store), first, 'a hit: nothing made or written again');
    const remembered = await sbomsOf(b.layout, b.digest);
    const fresh = await build(join(dir, 'fresh'));
    assert.equal(fresh.digest, b.digest);
    assert.deepEqual(remembered, await sbomsOf(fresh.layout, fresh.digest), 'the bytes of an empty store');
    await assertValidSpdx(remembered[0]!);
    await assertValidCycloneDx(remembered[1]!);
    assert.equal(JSON.parse(remembered[1]!).metadata.properties[0].value, b.digest);

    // A blob of the record lost: a miss, made again, the same bytes.
    const value = JSON.parse(await readFile(join(store, 'meta', [...first.keys()][0]!), 'utf8')).value as {
      documents: [string, { digest: string }][];
    };
    await unlink(join(store, 'blobs', 'sha256', value.documents[0]![1].digest.slice(7)));
    const c = await build(warm);
    assert.deepEqual(await sbomsOf(c.layout, c.digest), remembered);
    assert.notDeepEqual(await sbomRecords(store), first, 'written again');

    // The lockfile changes (the app's version): another record, the new version in the SBOM.
    for (const f of ['package.json', 'package-lock.json']) {
      const text = await readFile(join(app, f), 'utf8');
      const { writeFile } = await import('node:fs/promises');
      await writeFile(join(app, f), text.replaceAll('"version": "1.0.0"', '"version": "1.0.1"'));
    }
    const d = await build(warm);
    assert.equal((await sbomRecords(store)).size, 2, 'a new key');
    const spdx = JSON.parse((await sbomsOf(d.layout, d.digest))[0]!) as {
      packages: { versionInfo?: string }[];
    };
    assert.equal(spdx.packages[0]!.versionInfo, '1.0.1');

    // What the record leaves out of its key: sbomForApp reads the image digest only as the
    // subject's and the app layer only as the app component's.
    const lock = npmPackagesFromLockfile(JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8')))!;
    const made = (image: string, app: string) =>
      sbomForApp(d.plan, {
        image: { name: 'x', digest: image },
        arch: 'amd64',
        layers: { os: 'sha256:os', node: 'sha256:node', node_modules: 'sha256:nm', app },
        node: { version: '24.0.0' },
        npm: lock.packages,
        appDependencies: lock.root.dependencies,
        tool: { name: 'distill', version: '0' },
      });
    const [one, two] = [0, 1].map(() =>
      made(`sha256:${randomBytes(32).toString('hex')}`, `sha256:${randomBytes(32).toString('hex')}`),
    );
    const without = (s: typeof one) => ({
      ...s,
      subject: { name: s!.subject.name },
      components: s!.components.map((c) => (c.id === s!.root ? { ...c, layer: '' } : c)),
    });
    assert.deepEqual(without(one), without(two));
  });
});
