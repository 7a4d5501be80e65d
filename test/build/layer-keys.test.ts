import assert from 'node:assert/strict';
import { test } from 'node:test';
import { layerRecordKey } from '../../src/build/layercache.js';
import { nodeLayerKey } from '../../src/build/node-layer.js';
import { compressionKey, GZIP_ENCODER } from '../../src/layers/compression.js';

/**
 * The gzip encoder is part of every cache key that names gzip layers (decision 0042): a store or a
 * remote cache holding layers deflated by zlib (before libdeflate) must not answer a build now
 * with their digests. zstd's bytes did not change, and neither did its keys.
 */
test("cache keys name gzip's encoder; zstd's keys are as they were", () => {
  assert.equal(GZIP_ENCODER, 'libdeflate-1.23-4m');
  assert.equal(compressionKey(), `gzip:6:${GZIP_ENCODER}`);
  assert.equal(compressionKey({ kind: 'gzip', level: 9 }), `gzip:9:${GZIP_ENCODER}`);
  assert.equal(compressionKey({ kind: 'zstd', level: 3 }), 'zstd:3');

  // The `layer` record: the salt before 0042 was `gzip:6:EPOCH`.
  const key = layerRecordKey([], { sourceDateEpoch: 1700000000 });
  assert.equal(key.salt, `gzip:6:${GZIP_ENCODER}:1700000000`);
  assert.equal(
    layerRecordKey([], { sourceDateEpoch: 5, compression: { kind: 'zstd', level: 3 } }).salt,
    'zstd:3:5',
  );

  // The `node-layer` record (decision 0029): `layers` was `gzip:6`.
  const parts = <Record<string, unknown>>(
    nodeLayerKey({ integrity: 'sha512-x' }, { strip: true, sourceDateEpoch: 1 })
  );
  assert.equal(parts.layers, `gzip:6:${GZIP_ENCODER}`);
  const zstd = <Record<string, unknown>>(
    nodeLayerKey(
      { integrity: 'sha512-x' },
      { strip: true, sourceDateEpoch: 1, compression: { kind: 'zstd', level: 19 } },
    )
  );
  assert.equal(zstd.layers, 'zstd:19');
});
