import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { documentReferrers } from '../../src/attest/attach.js';
import { STATEMENT_MEDIA_TYPE } from '../../src/attest/index.js';
import { writeArtifact } from '../../src/media/index.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import { parseImageRef } from '../../src/ref/transport.js';
import {
  keySigner,
  SIGSTORE_BUNDLE_MEDIA_TYPE,
  type SigstoreBundle,
  statementSigner,
} from '../../src/sign/index.js';
import { buildOffline, HELLO_OFFLINE, offlineReady, startOfflineWorld } from '../helpers/app-fixture.js';
import { distill } from '../helpers/cli.js';
import { tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';
import { ecKeyPair, writePublicKey } from '../helpers/keys.js';
import { subjectOf } from '../helpers/referrers.js';
import { readAll } from '../helpers/registry-images.js';

/**
 * Signed attestations (`--attest provenance --sign-key`): the statement in a DSSE envelope in a
 * Sigstore bundle, attached beside it; `distill attestations REF --key PUB` checks every bundle,
 * and a wrong key, a tampered envelope, a statement moved from another image and an image with
 * none each fail with their own code, the layout unchanged.
 */
function keyPair(dir: string, name: string) {
  const { privateKey, publicKey } = ecKeyPair();
  const pub = join(dir, `${name}.pub`);
  return { privateKey, pub, write: () => writePublicKey(pub, publicKey) };
}

const statementAbout = (digest: string) =>
  Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'app', digest: { sha256: digest.slice('sha256:'.length) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: { buildDefinition: { buildType: 'https://distill.dev/buildtypes/app/v1' } },
    }),
  );

describe('signed attestations', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = await tempDir('distill-signed-attest-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** An image in its own layout, with a bundle about `about` (default: itself) attached. */
  async function layoutWith(
    name: string,
    bundle?: (subject: string) => Promise<Uint8Array>,
  ): Promise<{ ref: string; digest: string }> {
    const image = await memoryImage({ layers: 1, seed: name.length });
    const subject = subjectOf(image);
    const ref = `oci:${join(dir, name)}:app`;
    const referrers = bundle
      ? documentReferrers([subject], {
          mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
          bytes: await bundle(subject.digest),
        })
      : [];
    await writeArtifact(parseImageRef(ref), image, { referrers });
    return { ref, digest: subject.digest };
  }

  async function check(ref: string, pub: string) {
    const r = await distill(['attestations', ref, '--key', pub, '--format', 'json'], env);
    return { ...r, json: JSON.parse(r.stdout || '{}') as Record<string, unknown> };
  }

  test('verified with the key; wrong key, tampered, moved and unsigned each fail with their code', async () => {
    const ours = keyPair(dir, 'ours');
    const theirs = keyPair(dir, 'theirs');
    await ours.write();
    await theirs.write();
    const sign = statementSigner(keySigner(ours.privateKey));
    const signed = async (digest: string) => (await sign(statementAbout(digest))).bytes;

    const good = await layoutWith('good', signed);
    const ok = await check(good.ref, ours.pub);
    assert.equal(ok.code, 0, ok.stderr);
    const listed = ok.json.referrers as { artifactType: string; verified?: { predicateType: string } }[];
    assert.deepEqual(
      listed.map((r) => [r.artifactType, r.verified?.predicateType]),
      [[SIGSTORE_BUNDLE_MEDIA_TYPE, 'https://slsa.dev/provenance/v1']],
    );
    const text = await distill(['attestations', good.ref, '--key', ours.pub], env);
    assert.match(text.stdout, /verified: https:\/\/slsa\.dev\/provenance\/v1, signed by /);

    const wrong = await check(good.ref, theirs.pub);
    assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
    assert.equal(wrong.json.code, 'SIGNATURE_KEY_MISMATCH', wrong.stdout + wrong.stderr);

    // The payload changed after signing (the signature kept): a predicate rewritten.
    const tampered = await layoutWith('tampered', async (digest) => {
      const bundle = JSON.parse(Buffer.from(await signed(digest)).toString()) as SigstoreBundle;
      const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString()) as {
        predicate: unknown;
      };
      statement.predicate = { buildDefinition: { buildType: 'https://evil.example/' } };
      bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
      return Buffer.from(JSON.stringify(bundle));
    });
    const before = await readdir(join(dir, 'tampered'), { recursive: true });
    const t1 = await check(tampered.ref, ours.pub);
    assert.equal(t1.code, 1);
    assert.equal(t1.json.code, 'ATTESTATION_TAMPERED', t1.stderr);
    assert.deepEqual(await readdir(join(dir, 'tampered'), { recursive: true }), before, 'nothing written');

    // Not a bundle at all.
    const junk = await layoutWith('junk', async () => Buffer.from('{"mediaType":"x"}'));
    assert.equal((await check(junk.ref, ours.pub)).json.code, 'ATTESTATION_TAMPERED');

    // A bundle signed by our key, about another image, attached to this one.
    const moved = await layoutWith('moved', async () => signed(`sha256:${'b'.repeat(64)}`));
    const m = await check(moved.ref, ours.pub);
    assert.equal(m.code, 1);
    assert.equal(m.json.code, 'ATTESTATION_SUBJECT_MISMATCH');

    const none = await layoutWith('none');
    const n = await check(none.ref, ours.pub);
    assert.equal(n.code, 1);
    assert.equal(n.json.code, 'ATTESTATION_UNSIGNED');
  });

  test('a build with --attest provenance and a signer attaches the signed statement', async (t) => {
    if (!offlineReady(t)) return;
    const world = await startOfflineWorld();
    t.after(() => world.close());
    const key = keyPair(dir, 'build');
    await key.write();
    const r = await buildOffline(
      world,
      HELLO_OFFLINE,
      join(dir, 'build'),
      {},
      {},
      { attest: { provenance: true, sign: statementSigner(keySigner(key.privateKey)) } },
    );
    const ref = parseImageRef(`oci:${r.layout}:latest`);
    const found = await listReferrers(ref, r.digest as never);
    const docOf = async (type: string) => {
      const d = found.find((x) => x.artifactType === type);
      assert.ok(d, `a ${type} referrer`);
      const referrer = await openReferrer(ref, d);
      return readAll(await referrer.blobs.find((b) => b.descriptor.mediaType === type)!.open());
    };
    const statement = await docOf(STATEMENT_MEDIA_TYPE);
    const bundle = JSON.parse((await docOf(SIGSTORE_BUNDLE_MEDIA_TYPE)).toString()) as SigstoreBundle;
    assert.deepEqual(
      Buffer.from(bundle.dsseEnvelope.payload, 'base64'),
      statement,
      'the statement attached is the one signed',
    );
    const v = await check(`oci:${r.layout}:latest`, key.pub);
    assert.equal(v.code, 0, v.stderr);
  });
});
