import assert from 'node:assert/strict';
import type { KeyObject } from 'node:crypto';
import { describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import {
  bundleStatement,
  IN_TOTO_PAYLOAD_TYPE,
  keySigner,
  keyVerifier,
  openEnvelope,
  pae,
  publicKeyHint,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  type SigstoreBundle,
} from '../../src/sign/index.js';
import { ecKeyPair } from '../helpers/keys.js';
import { sigstoreVerify } from '../helpers/sigstore-verify.js';

const ec = ecKeyPair;

/** A provenance-like in-toto statement about an image, as attestations carry. */
const STATEMENT = Buffer.from(
  JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: [{ name: 'registry.example/app', digest: { sha256: 'a'.repeat(64) } }],
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: { buildType: 'https://example.com/distill' } },
  }),
);

describe('DSSE envelopes in Sigstore bundles', () => {
  test("PAE is the DSSE spec's example byte for byte", () => {
    assert.equal(
      pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(),
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
  });

  test('@sigstore/verify accepts a bundle of a signed statement with the public key', async () => {
    const k = ec();
    const bundle = await bundleStatement(STATEMENT, keySigner(k.privateKey));
    assert.equal(bundle.mediaType, SIGSTORE_BUNDLE_MEDIA_TYPE);
    assert.equal(bundle.dsseEnvelope.payloadType, IN_TOTO_PAYLOAD_TYPE);
    assert.equal(bundle.verificationMaterial.publicKey.hint, publicKeyHint(k.publicKey));
    assert.equal(bundle.dsseEnvelope.signatures[0]?.keyid, publicKeyHint(k.publicKey));
    sigstoreVerify(bundle, k.publicKey);
    assert.deepEqual(openEnvelope(bundle.dsseEnvelope, keyVerifier(k.publicKey), 'bundle'), STATEMENT);
  });

  test('another key, a changed statement, a changed payload type: refused by both verifiers', async () => {
    const k = ec();
    const other = ec();
    const bundle = await bundleStatement(STATEMENT, keySigner(k.privateKey));
    const withEnvelope = (change: Partial<SigstoreBundle['dsseEnvelope']>): SigstoreBundle => ({
      ...bundle,
      dsseEnvelope: { ...bundle.dsseEnvelope, ...change },
    });
    const changedStatement = Buffer.from(STATEMENT.toString().replace('aaaa', 'bbbb'));
    const cases: [string, SigstoreBundle, KeyObject][] = [
      ['other key', bundle, other.publicKey],
      ['statement', withEnvelope({ payload: changedStatement.toString('base64') }), k.publicKey],
      ['payload type', withEnvelope({ payloadType: 'application/json' }), k.publicKey],
    ];
    for (const [name, b, key] of cases) {
      // Another key's hint is not in the trust material: @sigstore/verify finds no key for it.
      assert.throws(
        () => sigstoreVerify(b, key),
        (e) =>
          name === 'other key'
            ? /no key for hint/.test((e as Error).message)
            : (e as { code?: string }).code === 'SIGNATURE_ERROR',
        name,
      );
      assert.throws(
        () => openEnvelope(b.dsseEnvelope, keyVerifier(key), name),
        (e) => isDistillError(e, 'SIGNATURE_KEY_MISMATCH'),
        name,
      );
    }
    assert.throws(
      () => openEnvelope({ payload: 1 }, keyVerifier(k.publicKey), 'x'),
      (e) => isDistillError(e, 'SIGNATURE_TAMPERED'),
    );
  });

  test('a key hint the trust material has, but the signature by another key: refused', async () => {
    const k = ec();
    const other = ec();
    const bundle = await bundleStatement(STATEMENT, keySigner(other.privateKey));
    const forged = {
      ...bundle,
      verificationMaterial: {
        ...bundle.verificationMaterial,
        publicKey: { hint: publicKeyHint(k.publicKey) },
      },
    };
    assert.throws(
      () => sigstoreVerify(forged, k.publicKey),
      (e) => (e as { code?: string }).code === 'SIGNATURE_ERROR',
    );
  });
});
