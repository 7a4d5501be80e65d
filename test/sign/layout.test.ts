import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { blobPath } from '../../src/media/blobs.js';
import { openArtifact, writeArtifact } from '../../src/media/index.js';
import type { Image } from '../../src/oci/image.js';
import { buildIndex } from '../../src/oci/mutate.js';
import { parseImageRef } from '../../src/ref/transport.js';
import {
  keySigner,
  keyVerifier,
  SIGNATURE_ANNOTATION,
  SIMPLE_SIGNING_MEDIA_TYPE,
  signatureTag,
  signImage,
  verifyImage,
} from '../../src/sign/index.js';
import { tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';
import { ecKeyPair } from '../helpers/keys.js';

const ec = ecKeyPair;

/** Every file under `dir` with its bytes, to show that a failed command wrote nothing. */
async function snapshot(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) {
      const p = join(e.parentPath, e.name);
      out.set(p, (await readFile(p)).toString('base64'));
    }
  }
  return out;
}

describe('sign and verify in an OCI layout', () => {
  let dir = '';
  let image: Image;
  let other: Image;
  const alice = ec();
  const bob = ec();
  before(async () => {
    dir = await tempDir('distill-sign-');
    image = await memoryImage({ layers: 1, seed: 3 });
    other = await memoryImage({ layers: 1, seed: 4 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function layout(name: string): Promise<string> {
    const path = join(dir, name);
    await writeArtifact(parseImageRef(`oci:${path}:app`), image);
    await writeArtifact(parseImageRef(`oci:${path}:other`), other);
    return path;
  }

  test('signs as cosign does: the .sig tag, the simple-signing layer, the signature annotation', async () => {
    const path = await layout('format');
    const ref = parseImageRef(`oci:${path}:app`);
    const r = await signImage(ref, keySigner(alice.privateKey), { identity: 'registry.example/app:1' });
    assert.equal(r.digest, image.manifest.digest);
    assert.equal(r.written, true);
    assert.equal(signatureTag(r.digest), `sha256-${r.digest.slice(7)}.sig`);
    const att = await openArtifact(parseImageRef(`oci:${path}:${signatureTag(r.digest)}`));
    assert.equal(att.kind, 'image');
    assert.equal(att.manifest.digest, r.attachmentDigest);
    if (att.kind !== 'image') return;
    assert.equal(att.manifest.value.mediaType, 'application/vnd.oci.image.manifest.v1+json');
    assert.equal(att.layers.length, 1);
    const layer = att.layers[0]!;
    assert.equal(layer.descriptor.mediaType, SIMPLE_SIGNING_MEDIA_TYPE);
    assert.deepEqual(att.config.value.rootfs.diff_ids, [layer.descriptor.digest]);
    const payload = await readFile(join(path, blobPath(layer.descriptor)), 'utf8');
    assert.equal(
      payload,
      `{"critical":{"identity":{"docker-reference":"registry.example/app:1"},"image":{"docker-manifest-digest":"${r.digest}"},"type":"cosign container image signature"},"optional":null}`,
    );
    assert.match(layer.descriptor.annotations?.[SIGNATURE_ANNOTATION] ?? '', /^ME[A-Za-z0-9+/]+=*$/);

    const v = await verifyImage(ref, keyVerifier(alice.publicKey));
    assert.deepEqual(v.signatures, [
      { identity: 'registry.example/app:1', optional: null, payloadDigest: layer.descriptor.digest },
    ]);
  });

  test('signing again with the same key writes nothing; another key appends a layer', async () => {
    const path = await layout('append');
    const ref = parseImageRef(`oci:${path}:app`);
    const first = await signImage(ref, keySigner(alice.privateKey), { annotations: { build: '7' } });
    const before = await snapshot(path);
    const again = await signImage(ref, keySigner(alice.privateKey), { annotations: { build: '7' } });
    assert.equal(again.written, false);
    assert.equal(again.attachmentDigest, first.attachmentDigest);
    assert.deepEqual(await snapshot(path), before);
    const second = await signImage(ref, keySigner(bob.privateKey));
    assert.notEqual(second.attachmentDigest, first.attachmentDigest);
    const att = (await openArtifact(parseImageRef(`oci:${path}:${signatureTag(first.digest)}`))) as Image;
    assert.equal(att.layers.length, 2);
    const a = await verifyImage(ref, keyVerifier(alice.publicKey));
    assert.deepEqual(
      a.signatures.map((s) => s.optional),
      [{ build: '7' }],
    );
    assert.equal(a.signatures[0]?.identity, 'app');
    const b = await verifyImage(ref, keyVerifier(bob.publicKey));
    assert.deepEqual(
      b.signatures.map((s) => s.optional),
      [null],
    );
  });

  test('unsigned, another key, altered payload, a signature of another image: each its code, nothing written', async () => {
    const path = await layout('refuse');
    const ref = parseImageRef(`oci:${path}:app`);
    const otherRef = parseImageRef(`oci:${path}:other`);
    const check = async (r: typeof ref, key: ReturnType<typeof ec>, code: string) => {
      const before = await snapshot(path);
      await assert.rejects(
        verifyImage(r, keyVerifier(key.publicKey)),
        (e) => isDistillError(e) && e.code === code,
        code,
      );
      assert.deepEqual(await snapshot(path), before);
    };
    await check(ref, alice, 'SIGNATURE_MISSING');
    const signed = await signImage(ref, keySigner(alice.privateKey));
    await check(ref, bob, 'SIGNATURE_KEY_MISMATCH');

    // The attachment of `app` put under `other`'s tag: a good signature, for another digest.
    const att = (await openArtifact(parseImageRef(`oci:${path}:${signatureTag(signed.digest)}`))) as Image;
    await writeArtifact(parseImageRef(`oci:${path}:${signatureTag(other.manifest.digest)}`), att);
    await check(otherRef, alice, 'SIGNATURE_DIGEST_MISMATCH');
    await check(otherRef, bob, 'SIGNATURE_KEY_MISMATCH');

    // The payload's bytes changed where they are stored.
    const blob = join(path, blobPath(att.layers[0]!.descriptor));
    const payload = await readFile(blob, 'utf8');
    await writeFile(blob, payload.replace('"optional":null', '"optional":{}  '));
    await check(ref, alice, 'SIGNATURE_TAMPERED');
    await writeFile(blob, payload);
    await verifyImage(ref, keyVerifier(alice.publicKey));
  });

  test('a payload that is not a simple-signing document, signed by the key, is SIGNATURE_TAMPERED', async () => {
    const path = await layout('shape');
    const ref = parseImageRef(`oci:${path}:app`);
    // A payload with an extra key, signed by the key, as a tool holding the key (or a buggy
    // one) could store it: containers/image refuses it, so distill verify must too.
    const r = await signImage(ref, keySigner(alice.privateKey));
    const doc = JSON.stringify({
      critical: {
        identity: { 'docker-reference': 'app' },
        image: { 'docker-manifest-digest': r.digest },
        type: 'cosign container image signature',
        extra: 1,
      },
      optional: null,
    });
    const { appendSignature } = await import('../../src/sign/attachment.js');
    const { signature } = await keySigner(alice.privateKey).sign(Buffer.from(doc));
    const bad = appendSignature(undefined, Buffer.from(doc), { signature });
    await writeArtifact(parseImageRef(`oci:${path}:${signatureTag(r.digest)}`), bad);
    await assert.rejects(verifyImage(ref, keyVerifier(alice.publicKey)), (e) =>
      isDistillError(e, 'SIGNATURE_TAMPERED'),
    );
  });

  test("an index is signed by its own digest; its platforms' images are not", async () => {
    const path = join(dir, 'index');
    const arm = await memoryImage({ layers: 1, seed: 5, architecture: 'arm64' });
    const index = buildIndex([image, arm]);
    await writeArtifact(parseImageRef(`oci:${path}:multi`), index);
    const r = await signImage(parseImageRef(`oci:${path}:multi`), keySigner(alice.privateKey));
    assert.equal(r.digest, index.manifest.digest);
    const v = await verifyImage(parseImageRef(`oci:${path}:multi`), keyVerifier(alice.publicKey));
    assert.equal(v.digest, index.manifest.digest);
    await assert.rejects(
      openArtifact(parseImageRef(`oci:${path}:${signatureTag(arm.manifest.digest)}`)),
      (e) => isDistillError(e, 'TAG_NOT_FOUND'),
    );
  });

  test('hostile attachments: an oversized payload, too many layers', async () => {
    const { appendSignature, readSignatures, MAX_SIGNATURES } = await import('../../src/sign/attachment.js');
    const { signature } = await keySigner(alice.privateKey).sign(Buffer.from('x'));
    const big = appendSignature(undefined, Buffer.alloc(200 * 1024, 0x20), { signature });
    const [read] = await readSignatures(big, 'test');
    assert.equal(read?.payload, undefined);
    assert.ok(isDistillError(read?.problem, 'SIGNATURE_TAMPERED'));
    let many: Image | undefined;
    for (let i = 0; i <= MAX_SIGNATURES; i++) many = appendSignature(many, Buffer.from('{}'), { signature });
    await assert.rejects(readSignatures(many!, 'test'), (e) => isDistillError(e, 'MANIFEST_INVALID'));
  });

  test('media that cannot hold a signature are refused before anything is read', async () => {
    await assert.rejects(
      signImage(parseImageRef(`docker-archive:${join(dir, 'x.tar')}`), keySigner(alice.privateKey)),
      (e) => isDistillError(e, 'USAGE'),
    );
  });
});
