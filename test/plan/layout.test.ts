import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { layoutEnv, nodeEntrypoint, nodeLayerEntries } from '../../src/plan/layout.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/components.js';

/** The distroless Node layout, owned by src/plan/layout.ts. */
describe('the distroless Node layout', () => {
  test('the Node layer is laid out like distroless nodejs, streaming from the store', async (t) => {
    const dir = await tempDir('distill-layout-');
    t.after(() => rm(dir, { recursive: true, force: true }));
    const store = new Store(join(dir, 'store'));
    const bin = Buffer.from('#!/bin/sh\necho v99.0.0\n');
    const lic = Buffer.from('Fake Node.js license\n');
    const rt = {
      binary: { digest: await store.putBytes(bin), size: bin.length },
      license: { digest: await store.putBytes(lic), size: lic.length },
    };
    const entries = nodeLayerEntries(rt, (b) => store.open(b.digest, b.size)).map((e) => e.entry);
    const files = entries.filter((e) => e.type === 'file');
    assert.deepEqual(
      files.map((e) => [e.path, e.mode]),
      [
        ['/nodejs/bin/node', 0o755],
        ['/nodejs/LICENSE', 0o644],
      ],
    );
    const node = files[0]!;
    assert.equal(node.source.kind, 'stream');
    if (node.source.kind !== 'stream') return;
    assert.equal(node.source.size, bin.length);
    const chunks: Buffer[] = [];
    for await (const c of await node.source.open()) chunks.push(c as Buffer);
    assert.deepEqual(Buffer.concat(chunks), bin);
    // Each file is named by its blob's digest, which the layer cache keys on.
    assert.deepEqual(
      nodeLayerEntries(rt, (b) => store.open(b.digest, b.size)).map((e) => e.contentDigest),
      [undefined, undefined, rt.binary.digest, rt.license.digest],
    );
  });

  test('environment and entrypoint', () => {
    assert.deepEqual(layoutEnv({ debug: false, nodeVersion: '24.1.0' }), {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      SSL_CERT_FILE: '/etc/ssl/certs/ca-certificates.crt',
      NODE_VERSION: '24.1.0',
    });
    assert.equal(layoutEnv({ debug: true }).PATH?.endsWith(':/busybox'), true);
    assert.equal(layoutEnv({ debug: true }).NODE_VERSION, undefined);
    assert.deepEqual(nodeEntrypoint(), ['/nodejs/bin/node']);
    assert.deepEqual(nodeEntrypoint(true), ['/usr/bin/tini', '-s', '--', '/nodejs/bin/node']);
  });
});
