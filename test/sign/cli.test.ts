import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';

describe('distill sign and verify', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let layout = '';
  before(async () => {
    dir = await tempDir('distill-sign-cli-');
    env = { DISTILL_CACHE: join(dir, 'cache'), COSIGN_PASSWORD: '' };
    layout = join(dir, 'layout');
    await writeArtifact(parseImageRef(`oci:${layout}:app`), await memoryImage({ layers: 1 }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('--generate-key with an empty COSIGN_PASSWORD, sign and verify an oci: layout in text', async () => {
    const prefix = join(dir, 'k');
    const g = await distill(['sign', '--generate-key', prefix, '--format', 'json'], env);
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(JSON.parse(g.stdout), { privateKey: `${prefix}.key`, publicKey: `${prefix}.pub` });
    const again = await distill(['sign', '--generate-key', prefix], env);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /k\.key exists/);

    const s = await distill(['sign', `oci:${layout}:app`, '--key', `${prefix}.key`, '-a', 'ci=yes'], env);
    assert.equal(s.code, 0, s.stderr);
    assert.match(
      s.stdout,
      /^signed oci:.*:app \(sha256:[0-9a-f]{64}\) as app: oci:.*:sha256-[0-9a-f]{64}\.sig\n$/,
    );
    const s2 = await distill(['sign', `oci:${layout}:app`, '--key', `${prefix}.key`, '-a', 'ci=yes'], env);
    assert.match(s2.stdout, /already has this key's signature/);

    const v = await distill(['verify', `oci:${layout}:app`, '--key', `${prefix}.pub`], env);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, /^verified oci:.*:app \(sha256:[0-9a-f]{64}\): signed by this key as app\n$/);
    const j = await distill(
      ['verify', `oci:${layout}:app`, '--key', `${prefix}.pub`, '--format', 'json'],
      env,
    );
    const doc = JSON.parse(j.stdout) as { verified: boolean; signatures: { optional: unknown }[] };
    assert.equal(doc.verified, true);
    assert.deepEqual(
      doc.signatures.map((x) => x.optional),
      [{ ci: 'yes' }],
    );
  });

  test('a failed verify exits 1 with its code and writes nothing; usage errors exit 2', async () => {
    const other = join(dir, 'other');
    assert.equal((await distill(['sign', '--generate-key', other], env)).code, 0);
    const before = await readdir(layout, { recursive: true });
    const v = await distill(
      ['verify', `oci:${layout}:app`, '--key', `${other}.pub`, '--format', 'json'],
      env,
    );
    assert.equal(v.code, 1);
    assert.equal((JSON.parse(v.stdout) as { code: string }).code, 'SIGNATURE_KEY_MISMATCH');
    assert.match(v.stderr, /none of its 1 signature verifies with this key/);
    assert.deepEqual(await readdir(layout, { recursive: true }), before);

    for (const args of [
      ['sign', `oci:${layout}:app`],
      ['verify', `oci:${layout}:app`],
      ['sign', '--generate-key', 'a', 'b'],
      ['sign', '--generate-key', '--key', 'x.key'],
      ['sign', `oci:${layout}:app`, '--key', `${other}.key`, '-a', 'novalue'],
    ]) {
      const r = await distill(args, env);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
  });
});
