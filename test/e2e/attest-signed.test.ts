import assert from 'node:assert/strict';
import { createPublicKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, type TestContext, test } from 'node:test';
import { documentReferrers } from '../../src/attest/attach.js';
import {
  CYCLONEDX_PREDICATE_TYPE,
  PREDICATE_TYPE_ANNOTATION,
  SLSA_PROVENANCE_V1,
  SPDX_PREDICATE_TYPE,
} from '../../src/attest/index.js';
import { openArtifact, writeArtifact } from '../../src/media/index.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import type { Descriptor } from '../../src/oci/types.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { SIGSTORE_BUNDLE_MEDIA_TYPE, type SigstoreBundle } from '../../src/sign/index.js';
import {
  type OfflineWorld,
  offlineCliEnv,
  offlineHelloArgs,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';
import { distill } from '../helpers/cli.js';
import { type RunningRegistry, requireComponents, startRegistry } from '../helpers/components.js';
import { ecKeyPair, writePublicKey } from '../helpers/keys.js';
import { readAll } from '../helpers/registry-images.js';
import { sigstoreVerify } from '../helpers/sigstore-verify.js';

describe('distill build --attest sbom,provenance --sign-key, pushed', () => {
  const fx = useOfflineWorld('distill-attest-signed-');
  let world: OfflineWorld | undefined;
  let registry: RunningRegistry | undefined;
  after(() => registry?.stop());
  async function ready(t: TestContext): Promise<boolean> {
    if (!offlineReady(t) || !requireComponents(t, 'docker-registry')) return false;
    world = await fx.world();
    registry ??= await startRegistry();
    return true;
  }
  const env = (name: string) => ({
    ...offlineCliEnv(world!, join(fx.dir, `scratch-${name}`), join(fx.dir, `cache-${name}`)),
    SOURCE_DATE_EPOCH: '1700000000',
    COSIGN_PASSWORD: 'correct horse',
  });
  function build(name: string, tag: string, extra: string[]) {
    return distill(
      [
        ...offlineHelloArgs(world!, fx.keyring()),
        '-t',
        tag,
        '--push',
        '--attest',
        'sbom,provenance',
        ...extra,
      ],
      env(name),
    );
  }
  /** The referrers of `digest` in the registry, with each one's document bytes. */
  async function attached(ref: string, digest: string) {
    const image = parseImageRef(`docker://${ref}`);
    const out: { descriptor: Descriptor; bytes: Buffer }[] = [];
    for (const d of await listReferrers(image, digest as never)) {
      const r = await openReferrer(image, d);
      const blob = r.blobs.find((b) => b.descriptor.mediaType === d.artifactType)!;
      out.push({ descriptor: d, bytes: await readAll(await blob.open()) });
    }
    return out;
  }

  test('signed and verified by distill and by @sigstore/verify; the wrong key and tampering fail', async (t) => {
    if (!(await ready(t))) return;
    const host = registry!.host;
    const gen = await distill(['sign', '--generate-key', join(fx.dir, 'cosign')], env('keys'));
    assert.equal(gen.code, 0, gen.stderr);
    const key = join(fx.dir, 'cosign.key');
    const pub = join(fx.dir, 'cosign.pub');
    const check = async (ref: string, keyFile: string) => {
      const c = await distill(['attestations', ref, '--key', keyFile, '--format', 'json'], env('check'));
      return { ...c, json: JSON.parse(c.stdout || '{}') as Record<string, unknown> };
    };

    // Without a key first, then with it, to the same tag: the second build adds the bundles and
    // nothing else (its unsigned referrers are the first's, byte for byte).
    const signedTag = `${host}/acme/app:1`;
    const plain = await build('plain', signedTag, []);
    assert.equal(plain.code, 0, plain.stderr);
    const digest = (JSON.parse(plain.stdout) as { digest: string }).digest;
    const unsigned = await attached(signedTag, digest);
    assert.equal(unsigned.length, 3, 'SPDX, CycloneDX, provenance');
    const none = await check(signedTag, pub);
    assert.equal(none.code, 1);
    assert.equal(none.json.code, 'ATTESTATION_UNSIGNED');

    const r = await build('signed', signedTag, ['--sign-key', key]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { digest: string }).digest, digest, 'the same image');
    const signed = await attached(signedTag, digest);
    const bundles = signed.filter((a) => a.descriptor.artifactType === SIGSTORE_BUNDLE_MEDIA_TYPE);
    assert.deepEqual(
      signed
        .filter((a) => a.descriptor.artifactType !== SIGSTORE_BUNDLE_MEDIA_TYPE)
        .map((a) => a.descriptor.digest)
        .sort(),
      unsigned.map((a) => a.descriptor.digest).sort(),
      'the unsigned referrers are byte-identical',
    );
    assert.deepEqual(
      bundles.map((b) => b.descriptor.annotations?.[PREDICATE_TYPE_ANNOTATION]).sort(),
      [CYCLONEDX_PREDICATE_TYPE, SLSA_PROVENANCE_V1, SPDX_PREDICATE_TYPE].sort(),
    );
    const provenance = JSON.parse(
      unsigned.find((a) => a.descriptor.artifactType === 'application/vnd.in-toto+json')!.bytes.toString(),
    ) as { subject: unknown[] };
    // Each SBOM statement's predicate is the document attached beside it, about this image.
    for (const [type, predicateType] of [
      ['application/spdx+json', SPDX_PREDICATE_TYPE],
      ['application/vnd.cyclonedx+json', CYCLONEDX_PREDICATE_TYPE],
    ] as const) {
      const doc = unsigned.find((a) => a.descriptor.artifactType === type)!;
      const bundle = bundles.find(
        (b) => b.descriptor.annotations?.[PREDICATE_TYPE_ANNOTATION] === predicateType,
      )!;
      const envelope = (JSON.parse(bundle.bytes.toString()) as SigstoreBundle).dsseEnvelope;
      const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString()) as {
        subject: { name: string; digest: Record<string, string> }[];
        predicateType: string;
        predicate: unknown;
      };
      assert.equal(statement.predicateType, predicateType);
      // About this image, named as the provenance names it.
      assert.deepEqual(statement.subject, provenance.subject);
      assert.deepEqual(statement.subject[0]!.digest, { sha256: digest.slice(7) });
      assert.deepEqual(statement.predicate, JSON.parse(doc.bytes.toString()));
    }

    // @sigstore/verify, with the public key alone as trust material, accepts every bundle.
    const publicKey = createPublicKey(await readFile(pub));
    for (const b of bundles) sigstoreVerify(JSON.parse(b.bytes.toString()), publicKey);
    const other = ecKeyPair().publicKey;
    assert.throws(() => sigstoreVerify(JSON.parse(bundles[0]!.bytes.toString()), other));

    const ok = await check(signedTag, pub);
    assert.equal(ok.code, 0, ok.stderr);
    const verified = (ok.json.referrers as { verified?: { predicateType: string } }[])
      .map((x) => x.verified?.predicateType)
      .filter((x) => x !== undefined)
      .sort();
    assert.deepEqual(verified, [CYCLONEDX_PREDICATE_TYPE, SLSA_PROVENANCE_V1, SPDX_PREDICATE_TYPE].sort());

    const wrongPub = await writePublicKey(join(fx.dir, 'wrong.pub'), other);
    const wrong = await check(signedTag, wrongPub);
    assert.equal(wrong.code, 1, wrong.stdout + wrong.stderr);
    assert.equal(wrong.json.code, 'SIGNATURE_KEY_MISMATCH');

    // An SBOM statement changed after signing (its predicate rewritten, the signature kept),
    // attached to the signed image beside the genuine ones.
    const spdxBundle = bundles.find(
      (b) => b.descriptor.annotations?.[PREDICATE_TYPE_ANNOTATION] === SPDX_PREDICATE_TYPE,
    )!;
    const forged = JSON.parse(spdxBundle.bytes.toString()) as SigstoreBundle;
    const statement = JSON.parse(Buffer.from(forged.dsseEnvelope.payload, 'base64').toString()) as {
      predicate: { packages: unknown[] };
    };
    statement.predicate.packages = [];
    forged.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64');
    const image = await openArtifact(parseImageRef(`docker://${signedTag}`));
    const subject = {
      mediaType: image.manifest.mediaType,
      digest: image.manifest.digest,
      size: image.manifest.bytes.length,
    };
    await writeArtifact(parseImageRef(`docker://${signedTag}`), image, {
      referrers: documentReferrers([subject], {
        mediaType: SIGSTORE_BUNDLE_MEDIA_TYPE,
        bytes: Buffer.from(JSON.stringify(forged)),
        annotations: { [PREDICATE_TYPE_ANNOTATION]: SPDX_PREDICATE_TYPE },
      }),
    });
    const tampered = await check(signedTag, pub);
    assert.equal(tampered.code, 1, tampered.stdout + tampered.stderr);
    assert.equal(tampered.json.code, 'ATTESTATION_TAMPERED');
  });
});
