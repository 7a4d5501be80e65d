import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { openArtifact, writeArtifact } from '../../src/media/index.js';
import type { Image } from '../../src/oci/image.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { signatureTag } from '../../src/sign/index.js';
import { distill } from '../helpers/cli.js';
import {
  dockerAvailable,
  IN_CI,
  type RunningRegistry,
  startRegistry,
  tempDir,
  which,
} from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';
import { prepareSigstoreSkopeo, sigstoreSkopeo, sigstoreSkopeoVersion } from '../helpers/skopeo-sigstore.js';

/**
 * The verifier we did not write: skopeo (containers/image, as podman and CRI-O use it) with a
 * policy requiring `sigstoreSigned` with a `keyPath`, reading cosign's `.sig` attachments
 * (`use-sigstore-attachments: true`) from Debian's docker-registry. Debian 12's skopeo has
 * sigstore patched out, so it is Debian 13's, run in the Docker engine (helpers/skopeo-sigstore.ts).
 */

const PASSWORD = 'pw for tests';
const NEEDS = ['docker-registry', 'openssl'];
const missing = NEEDS.filter((c) => !which(c));
if (!dockerAvailable()) missing.push('a running Docker engine');
if (missing.length > 0 && IN_CI) throw new Error(`CI=true and these tests need ${missing.join(', ')}`);

describe('signatures skopeo accepts and refuses', {
  skip: missing.length > 0 && `needs ${missing.join(', ')}`,
}, () => {
  let reg: RunningRegistry;
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let seed = 10;

  before(async () => {
    await prepareSigstoreSkopeo();
    assert.match(sigstoreSkopeoVersion(), /^skopeo version 1\.(1[3-9]|[2-9]\d)\./);
    reg = await startRegistry();
    dir = await tempDir('distill-skopeo-sign-');
    env = { DISTILL_CACHE: join(dir, 'cache'), COSIGN_PASSWORD: PASSWORD };
    const gen = await distill(['sign', '--generate-key', join(dir, 'cosign')], env);
    assert.equal(gen.code, 0, gen.stderr);
    const o = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
    o('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'openssl.pem');
    o('ec', '-in', 'openssl.pem', '-pubout', '-out', 'openssl.pub');
    await writeFile(
      join(dir, 'registries.yaml'),
      `docker:\n  ${reg.host}:\n    use-sigstore-attachments: true\n`,
    );
  });
  after(async () => {
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A fresh image pushed as HOST/NAME:1; returns the docker reference. */
  async function push(name: string): Promise<{ ref: string; image: Image }> {
    const image = await memoryImage({ layers: 1, seed: seed++ });
    const ref = `${reg.host}/sign/${name}:1`;
    await writeArtifact(parseImageRef(ref), image);
    return { ref, image };
  }

  /** `skopeo copy` of `ref` under a policy that requires a signature by `pub`. */
  function skopeoPull(
    ref: string,
    pub: string,
    identity = 'matchRepoDigestOrExact',
  ): { ok: boolean; stderr: string } {
    const policy = join(dir, `policy-${seed++}.json`);
    const doc = {
      default: [{ type: 'reject' }],
      transports: {
        docker: {
          '': [
            {
              type: 'sigstoreSigned',
              keyPath: join(dir, pub),
              signedIdentity: { type: identity },
            },
          ],
        },
      },
    };
    writeFileSync(policy, JSON.stringify(doc));
    const r = sigstoreSkopeo(dir, [
      'copy',
      '--policy',
      policy,
      '--registries.d',
      dir,
      '--src-tls-verify=false',
      // The policy is checked all the same; an oci: layout just cannot take the signatures along.
      '--remove-signatures',
      `docker://${ref}`,
      `oci:${join(dir, `pulled-${seed++}`)}:x`,
    ]);
    return { ok: r.ok, stderr: r.stderr };
  }

  /** skopeo refused `ref` for its signatures (not for some other failure). */
  function assertRefused(ref: string, pub: string): void {
    const r = skopeoPull(ref, pub);
    assert.equal(r.ok, false, `skopeo accepted ${ref}`);
    assert.match(r.stderr, /Source image rejected/, r.stderr);
  }

  async function tags(name: string): Promise<string[]> {
    const res = await fetch(`http://${reg.host}/v2/sign/${name}/tags/list`);
    return ((await res.json()) as { tags: string[] }).tags.sort();
  }

  async function verify(ref: string, pub: string) {
    const r = await distill(['verify', ref, '--key', join(dir, pub), '--format', 'json'], env);
    return { ...r, doc: JSON.parse(r.stdout) as { verified: boolean; code?: string; message?: string } };
  }

  test('an image signed with a --generate-key pair: skopeo pulls it, distill verify agrees', async () => {
    const { ref, image } = await push('generated');
    assertRefused(ref, 'cosign.pub');
    const s = await distill(['sign', ref, '--key', join(dir, 'cosign.key')], env);
    assert.equal(s.code, 0, s.stderr);
    assert.deepEqual(await tags('generated'), ['1', signatureTag(image.manifest.digest)].sort());
    const pulled = skopeoPull(ref, 'cosign.pub');
    assert.ok(pulled.ok, pulled.stderr);
    // By digest too: the identity is the repository, which matchRepoDigestOrExact accepts.
    assert.ok(skopeoPull(`${reg.host}/sign/generated@${image.manifest.digest}`, 'cosign.pub').ok);
    // Another tag of the same image: not the identity signed, unless the policy takes the repository.
    await writeArtifact(parseImageRef(`${reg.host}/sign/generated:other`), image);
    assertRefused(`${reg.host}/sign/generated:other`, 'cosign.pub');
    assert.ok(skopeoPull(`${reg.host}/sign/generated:other`, 'cosign.pub', 'matchRepository').ok);
    const v = await verify(ref, 'cosign.pub');
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.doc.verified, true);
  });

  test('an openssl PKCS#8 key; another key refused by both; a second signature appended', async () => {
    const { ref } = await push('openssl');
    const s = await distill(['sign', ref, '--key', join(dir, 'openssl.pem')], env);
    assert.equal(s.code, 0, s.stderr);
    assert.ok(skopeoPull(ref, 'openssl.pub').ok);
    assertRefused(ref, 'cosign.pub');
    const v = await verify(ref, 'cosign.pub');
    assert.equal(v.code, 1);
    assert.deepEqual(v.doc, { verified: false, code: 'SIGNATURE_KEY_MISMATCH', message: v.doc.message });

    // A second key appends its layer to the attachment in the registry; both are accepted.
    const s2 = await distill(['sign', ref, '--key', join(dir, 'cosign.key'), '--format', 'json'], env);
    assert.equal(s2.code, 0, s2.stderr);
    const att = (await openArtifact(
      parseImageRef(
        `${reg.host}/sign/openssl:${(JSON.parse(s2.stdout) as { attachment: string }).attachment.split(':').pop()}`,
      ),
    )) as Image;
    assert.equal(att.layers.length, 2);
    assert.ok(skopeoPull(ref, 'cosign.pub').ok);
    assert.ok(skopeoPull(ref, 'openssl.pub').ok);
  });

  test('unsigned: refused by skopeo, SIGNATURE_MISSING from distill verify', async () => {
    const { ref } = await push('unsigned');
    assertRefused(ref, 'cosign.pub');
    const v = await verify(ref, 'cosign.pub');
    assert.equal(v.code, 1);
    assert.equal(v.doc.code, 'SIGNATURE_MISSING');
    assert.deepEqual(await tags('unsigned'), ['1']);
  });

  test('the payload blob changed in the registry: refused by skopeo, SIGNATURE_TAMPERED', async () => {
    const { ref, image } = await push('tampered');
    assert.equal((await distill(['sign', ref, '--key', join(dir, 'cosign.key')], env)).code, 0);
    assert.ok(skopeoPull(ref, 'cosign.pub').ok);
    const att = (await openArtifact(
      parseImageRef(`${reg.host}/sign/tampered:${signatureTag(image.manifest.digest)}`),
    )) as Image;
    const d = att.layers[0]!.descriptor;
    const hex = d.digest.slice('sha256:'.length);
    const blob = join(reg.dir, 'data/docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const payload = await readFile(blob, 'utf8');
    // Same length, another tag claimed: what an attacker rewriting the stored payload would do.
    await writeFile(blob, payload.replace('/sign/tampered:1"', '/sign/tampered:2"'));
    assert.notEqual(await readFile(blob, 'utf8'), payload);
    assertRefused(ref, 'cosign.pub');
    const v = await verify(ref, 'cosign.pub');
    assert.equal(v.code, 1);
    assert.equal(v.doc.code, 'SIGNATURE_TAMPERED');
  });

  test("another image's signature under this image's tag: refused by skopeo, SIGNATURE_DIGEST_MISMATCH", async () => {
    const a = await push('moved-a');
    const b = await push('moved-b');
    assert.equal((await distill(['sign', a.ref, '--key', join(dir, 'cosign.key')], env)).code, 0);
    const att = await openArtifact(
      parseImageRef(`${reg.host}/sign/moved-a:${signatureTag(a.image.manifest.digest)}`),
    );
    await writeArtifact(
      parseImageRef(`${reg.host}/sign/moved-b:${signatureTag(b.image.manifest.digest)}`),
      att,
    );
    assertRefused(b.ref, 'cosign.pub');
    const v = await verify(b.ref, 'cosign.pub');
    assert.equal(v.code, 1);
    assert.equal(v.doc.code, 'SIGNATURE_DIGEST_MISMATCH');
  });

  test('a corrupt key file, a wrong password, no password: their codes, nothing pushed', async () => {
    const { ref } = await push('badkey');
    const corrupt = join(dir, 'corrupt.key');
    const text = await readFile(join(dir, 'cosign.key'), 'utf8');
    await writeFile(corrupt, text.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!'));
    const cases: [string, NodeJS.ProcessEnv, string][] = [
      [corrupt, env, 'KEY_INVALID'],
      [join(dir, 'cosign.key'), { ...env, COSIGN_PASSWORD: 'wrong' }, 'KEY_DECRYPT_FAILED'],
      [join(dir, 'cosign.pub'), env, 'KEY_INVALID'],
      // No COSIGN_PASSWORD and no terminal to ask on (the test's stdin is not one).
      [join(dir, 'cosign.key'), { ...env, COSIGN_PASSWORD: undefined }, 'KEY_PASSWORD_REQUIRED'],
    ];
    for (const [key, e, code] of cases) {
      const r = await distill(['sign', ref, '--key', key, '--format', 'json'], e);
      assert.equal(r.code, 1, code);
      assert.equal((JSON.parse(r.stdout) as { code: string }).code, code, r.stderr);
      assert.ok(r.stderr.includes(key), r.stderr);
    }
    assert.deepEqual(await tags('badkey'), ['1']);
  });

  test('skopeo signs with the --generate-key pair; distill verify accepts what it wrote', async () => {
    const { ref } = await push('by-skopeo');
    await writeFile(join(dir, 'pass'), PASSWORD);
    const r = sigstoreSkopeo(dir, [
      'copy',
      '--registries.d',
      dir,
      '--sign-by-sigstore-private-key',
      join(dir, 'cosign.key'),
      '--sign-passphrase-file',
      join(dir, 'pass'),
      '--src-tls-verify=false',
      '--dest-tls-verify=false',
      `docker://${ref}`,
      `docker://${reg.host}/sign/by-skopeo:signed`,
    ]);
    assert.ok(r.ok, r.stderr);
    const v = await verify(`${reg.host}/sign/by-skopeo:signed`, 'cosign.pub');
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.doc.verified, true);
  });
});
