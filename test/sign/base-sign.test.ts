import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { distill } from '../helpers/cli.js';
import { type RunningRegistry, requireComponents, startRegistry, tempDir } from '../helpers/components.js';

/** `distill base --sign-key`: the outputs signed in the same run, the key checked before building. */
describe('base --sign-key', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let reg: RunningRegistry | undefined;
  before(async () => {
    dir = await tempDir('distill-base-sign-');
    env = { DISTILL_CACHE: join(dir, 'cache'), COSIGN_PASSWORD: 'pw' };
    assert.equal((await distill(['sign', '--generate-key', join(dir, 'k')], env)).code, 0);
  });
  after(async () => {
    await reg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('a wrong password fails before anything is built or written', async () => {
    const out = join(dir, 'never');
    const r = await distill(
      ['base', 'static', '-o', `oci:${out}:static`, '--sign-key', join(dir, 'k.key'), '--format', 'json'],
      { ...env, COSIGN_PASSWORD: 'wrong' },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /password does not open/);
    assert.equal(existsSync(out), false);
  });

  test('registry and oci:DIR:TAG outputs signed, a docker-archive output warned about', async (t) => {
    if (!requireComponents(t, 'docker-registry')) return;
    reg = await startRegistry();
    const layout = join(dir, 'layout');
    const r = await distill(
      [
        'base',
        'static',
        '-o',
        `oci:${layout}:static`,
        '-o',
        `${reg.host}/base/static:1`,
        '-o',
        `docker-archive:${join(dir, 'static.tar')}`,
        '--sign-key',
        join(dir, 'k.key'),
        '--format',
        'json',
        '--quiet',
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as {
      digest: string;
      signatures: { digest: string; identity: string; attachment: string }[];
      warnings: string[];
    };
    assert.deepEqual(
      doc.signatures.map((s) => [s.digest, s.identity]),
      [
        [doc.digest, 'static'],
        [doc.digest, `${reg.host}/base/static:1`],
      ],
    );
    assert.ok(
      doc.warnings.some((w) => /static\.tar is not signed/.test(w)),
      doc.warnings.join('\n'),
    );
    for (const ref of [`oci:${layout}:static`, `${reg.host}/base/static:1`]) {
      const v = await distill(['verify', ref, '--key', join(dir, 'k.pub')], env);
      assert.equal(v.code, 0, `${ref}: ${v.stderr}`);
    }
  });
});
