import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import { distill } from '../helpers/cli.js';
import {
  htpasswdLine,
  type RunningRegistry,
  requireComponents,
  startRegistry,
  tempDir,
  which,
} from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';

/**
 * `distill copy` to a real registry with htpasswd auth: credentials from a Docker config.json,
 * from --creds, and a wrong password (exit 1, one sentence naming the registry and what to do,
 * nothing pushed).
 */
describe('registry auth through the CLI', () => {
  let dir = '';
  let registry: RunningRegistry | undefined;
  let layout = '';
  let digest = '';

  before(async () => {
    dir = await tempDir();
    if (!which('docker-registry') || !which('htpasswd')) return;
    registry = await startRegistry({ htpasswd: `${htpasswdLine('alice', 's3cret')}\n` });
    const image = await memoryImage({ layers: 2, seed: 11 });
    digest = image.manifest.digest;
    layout = join(dir, 'layout');
    await writeLayoutDir(layout, 'v1', image);
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function catalog(): Promise<string[]> {
    const res = await fetch(`http://${registry!.host}/v2/_catalog`, {
      headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` },
    });
    return ((await res.json()) as { repositories: string[] }).repositories;
  }

  test('a wrong password exits 1 with one sentence naming the registry, and nothing is pushed', async (t) => {
    if (!requireComponents(t, 'docker-registry', 'htpasswd')) return;
    const r = await distill([
      'copy',
      '-q',
      `oci:${layout}:v1`,
      `docker://${registry!.host}/team/app:1`,
      '--creds',
      'alice:wrong',
    ]);
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`registry ${registry!.host.replace(/\./g, '\\.')} rejected the credentials`),
    );
    assert.match(r.stderr, /docker login/);
    assert.deepEqual(await catalog(), []);
  });

  test('--creds pushes, and the image reads back with the same digest', async (t) => {
    if (!requireComponents(t, 'docker-registry', 'htpasswd')) return;
    const ref = `docker://${registry!.host}/team/app:creds`;
    let r = await distill(['copy', '-q', `oci:${layout}:v1`, ref, '--creds', 'alice:s3cret']);
    assert.equal(r.code, 0, r.stderr);
    r = await distill(['digest', ref, '--creds', 'alice:s3cret']);
    assert.equal(r.stdout.trim(), digest);
    r = await distill(['digest', ref]);
    assert.equal(r.code, 1, 'no credentials: refused');
    assert.match(r.stderr, /requires authentication/);
  });

  test('credentials from a Docker config.json (DOCKER_CONFIG) push without flags', async (t) => {
    if (!requireComponents(t, 'docker-registry', 'htpasswd')) return;
    const configDir = join(dir, 'docker-config');
    await mkdir(configDir, { recursive: true });
    await writeFile(
      join(configDir, 'config.json'),
      JSON.stringify({
        auths: { [registry!.host]: { auth: Buffer.from('alice:s3cret').toString('base64') } },
      }),
    );
    const ref = `${registry!.host}/team/app:config`;
    const r = await distill(['copy', '-q', `oci:${layout}:v1`, ref, '--format', 'json'], {
      DOCKER_CONFIG: configDir,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).destination.digest, digest);
    assert.deepEqual(await catalog(), ['team/app']);
  });
});
