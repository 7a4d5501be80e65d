import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  checkEntryManifest,
  checkEntryRecord,
  encodeEntry,
  entryKey,
  entryTag,
  isEntryTag,
  KEY_ANNOTATION,
} from '../../src/cache/entry.js';
import { blobsOf } from '../../src/cache/kinds.js';
import { isDistillError } from '../../src/errors.js';
import { digestOf } from '../../src/oci/digest.js';
import { recordName } from '../../src/store/records.js';

/** The cache entry format (src/cache/entry.ts): what a lookup accepts and what it refuses. */
const layerDigest = digestOf('layer bytes');
const value = {
  descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layerDigest, size: 11 },
  diffId: digestOf('tar'),
};
const parts = { install: digestOf('inputs') };
const want = { kind: 'node-modules' as const, version: 1, parts };
const record = { ...want, at: 1_700_000_000_000, value };

function entry() {
  const { config, manifest } = encodeEntry(record, blobsOf('node-modules', value));
  return { config, manifest, bytes: Buffer.from(JSON.stringify(manifest)) };
}

const invalid = (err: unknown) => isDistillError(err, 'MANIFEST_INVALID');

describe('cache entries', () => {
  test('found by a tag made of the kind, version and the key the local store names records by', () => {
    const tag = entryTag('node-modules', 1, parts);
    assert.equal(tag, `node-modules-v1-${recordName('node-modules', 1, parts)}`);
    assert.ok(tag.length <= 128);
    assert.ok(isEntryTag(tag));
    assert.ok(!isEntryTag('latest'));
    assert.ok(!isEntryTag('node-modules-v1-abc'));
  });

  test('an entry written is read back: its record and its blobs', () => {
    const { config, manifest, bytes } = entry();
    const m = checkEntryManifest(bytes, entryKey('node-modules', 1, parts), 'test');
    const { record: r, blobs } = checkEntryRecord(config, m, want, 'test');
    assert.deepEqual(r.value, value);
    assert.equal(r.at, record.at);
    assert.deepEqual(blobs, [{ descriptor: value.descriptor, diffId: value.diffId }]);
    assert.equal(manifest.layers[0]!.digest, layerDigest);
  });

  test('another key in the manifest, or not a cache entry at all, is refused', () => {
    const { manifest } = entry();
    const other = { ...manifest, annotations: { ...manifest.annotations, [KEY_ANNOTATION]: '0'.repeat(64) } };
    const key = entryKey('node-modules', 1, parts);
    assert.throws(
      () => checkEntryManifest(Buffer.from(JSON.stringify(other)), key, 'test'),
      /is for key 0{64}/,
    );
    const image = { ...manifest, artifactType: undefined };
    assert.throws(() => checkEntryManifest(Buffer.from(JSON.stringify(image)), key, 'test'), invalid);
    assert.throws(() => checkEntryManifest(Buffer.from('not json'), key, 'test'), invalid);
    const huge = { ...manifest, config: { ...manifest.config, size: 1 << 30 } };
    assert.throws(() => checkEntryManifest(Buffer.from(JSON.stringify(huge)), key, 'test'), /at most/);
  });

  test('a record of another key, kind or version, or listing other blobs, is refused', () => {
    const { manifest } = entry();
    const config = (r: object) => Buffer.from(JSON.stringify(r));
    const otherParts = config({ ...record, parts: { install: digestOf('other') } });
    assert.throws(() => checkEntryRecord(otherParts, manifest, want, 'test'), /another key/);
    assert.throws(
      () => checkEntryRecord(config({ ...record, kind: 'layer' }), manifest, want, 'test'),
      /kind/,
    );
    assert.throws(
      () => checkEntryRecord(config({ ...record, version: 2 }), manifest, want, 'test'),
      /version/,
    );
    const otherBlob = { ...value, descriptor: { ...value.descriptor, digest: digestOf('else') } };
    assert.throws(
      () => checkEntryRecord(config({ ...record, value: otherBlob }), manifest, want, 'test'),
      /other blobs/,
    );
    const noDiffId = { descriptor: value.descriptor };
    assert.throws(
      () => checkEntryRecord(config({ ...record, value: noDiffId }), manifest, want, 'test'),
      invalid,
    );
  });

  test("a base-os entry carries each arch's manifest, config and layers (with diff_ids); bad shapes are refused", () => {
    const d = (what: string, mediaType: string) => ({ mediaType, digest: digestOf(what), size: what.length });
    const arch = {
      manifest: d('manifest', 'application/vnd.oci.image.manifest.v1+json'),
      config: d('config', 'application/vnd.oci.image.config.v1+json'),
      layers: [{ descriptor: value.descriptor, diffId: value.diffId }],
      libraries: [['libc.so.6', '/usr/lib/x86_64-linux-gnu/libc.so.6']],
    };
    assert.deepEqual(blobsOf('base-os', { amd64: arch }), [
      { descriptor: arch.manifest },
      { descriptor: arch.config },
      { descriptor: value.descriptor, diffId: value.diffId },
    ]);
    assert.equal(blobsOf('base-os', { amd64: arch, arm64: arch }).length, 6);
    assert.throws(() => blobsOf('base-os', { amd64: { ...arch, libraries: [['libc.so.6']] } }), /libraries/);
    assert.throws(
      () => blobsOf('base-os', { amd64: { ...arch, layers: [{ descriptor: value.descriptor }] } }),
      invalid,
    );
    assert.throws(() => blobsOf('base-os', { amd64: { ...arch, config: undefined } }), /config/);
    assert.throws(() => blobsOf('base-os', []), invalid);
  });

  test('a node-layer entry carries the layer (with its diff_id), not the release; bad shapes are refused', () => {
    const file = (what: string) => ({ digest: digestOf(what), size: what.length });
    const node = { layer: value, binary: file('node'), license: file('LICENSE'), abi: '137' };
    assert.deepEqual(blobsOf('node-layer', node), [{ descriptor: value.descriptor, diffId: value.diffId }]);
    assert.throws(() => blobsOf('node-layer', { ...node, abi: 137 }), /abi/);
    assert.throws(() => blobsOf('node-layer', { ...node, binary: { digest: 'x', size: 1 } }), invalid);
    assert.throws(() => blobsOf('node-layer', { ...node, layer: { descriptor: value.descriptor } }), invalid);
    assert.throws(() => blobsOf('node-layer', null), invalid);
  });

  test("the plan's resolutions travel as plain data: build-node an object, build-pm a version and integrity", () => {
    const releases = { versions: ['24.21.0'], ltsCodenames: [['krypton', 24]], source: 'npm' };
    assert.deepEqual(blobsOf('build-node', releases), []);
    assert.throws(() => blobsOf('build-node', ['24.21.0']), invalid);
    assert.deepEqual(blobsOf('build-pm', { version: '11.6.2', integrity: 'sha512-AAAA' }), []);
    assert.deepEqual(blobsOf('build-pm', { version: '11.6.2' }), []);
    assert.throws(() => blobsOf('build-pm', '11.6.2'), invalid, 'a version 1 value');
    assert.throws(() => blobsOf('build-pm', { version: '' }), invalid);
    assert.throws(() => blobsOf('build-pm', { version: '11.6.2', integrity: 7 }), invalid);
  });
});
