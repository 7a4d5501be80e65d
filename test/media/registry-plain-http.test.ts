import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import { openRegistry } from '../../src/media/registry/index.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { distill } from '../helpers/cli.js';
import { IN_CI, requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';

/**
 * Issue 13, finding 10 (first part): distill speaks HTTPS to a registry that is not on loopback
 * unless told --insecure; when the registry answers in plain HTTP, the user gets one line that
 * says so and names --insecure, not OpenSSL's multi-line record error and a hint about CA files.
 * A non-loopback address of this machine stands for a remote registry.
 */

function nonLoopbackAddress(): string | undefined {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}

function needAddress(t: { skip(m: string): void }): string | undefined {
  const ip = nonLoopbackAddress();
  if (ip !== undefined) return ip;
  const reason = 'needs a non-loopback IPv4 address on this machine';
  if (IN_CI) throw new Error(`CI=true and this test ${reason}`);
  t.skip(reason);
  return undefined;
}

test('finding 10a: a plain-HTTP registry without --insecure is one line naming --insecure', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const ip = needAddress(t);
  if (ip === undefined) return;
  const reg = await startRegistry({ listen: '0.0.0.0' });
  t.after(() => reg.stop());
  const dir = await tempDir('distill-plain-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeLayoutDir(join(dir, 'layout'), 'v1', await memoryImage({ layers: 1 }));
  const registry = `${ip}:${reg.host.split(':')[1]}`;
  const target = `docker://${registry}/plain/app:v1`;

  const push = await distill(['copy', '-q', `oci:${join(dir, 'layout')}:v1`, target]);
  assert.equal(push.code, 1);
  assert.equal(
    push.stderr,
    `distill: registry ${registry} answered plain HTTP to an HTTPS request; if you trust it, add --insecure\n`,
  );
  const pull = await distill(['inspect', target]);
  assert.equal(pull.code, 1);
  assert.equal(
    pull.stderr.trim().split('\n').pop(),
    `distill: registry ${registry} answered plain HTTP to an HTTPS request; if you trust it, add --insecure`,
  );
  assert.doesNotMatch(pull.stderr, /NODE_EXTRA_CA_CERTS|SSL routines/);
  await assert.rejects(openRegistry(parseDockerReference(`${registry}/plain/app:v1`)), (e) =>
    isDistillError(e, 'INSECURE_REFUSED'),
  );

  const insecure = await distill(['copy', '-q', `oci:${join(dir, 'layout')}:v1`, target, '--insecure']);
  assert.equal(insecure.code, 0, insecure.stderr);
  const back = await openRegistry(parseDockerReference(`${registry}/plain/app:v1`), { insecure: true });
  assert.equal(back.kind, 'image');
});

test('a certificate the machine does not trust still points at NODE_EXTRA_CA_CERTS, in one line', async (t) => {
  if (!requireComponents(t, 'openssl')) return;
  const ip = needAddress(t);
  if (ip === undefined) return;
  const dir = await tempDir('distill-tls-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=distill-test',
      '-addext',
      `subjectAltName=IP:${ip}`,
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  );
  const server = createServer(
    { key: await readFile(join(dir, 'key.pem')), cert: await readFile(join(dir, 'cert.pem')) },
    (_req, res) => res.end('{}'),
  );
  await new Promise<void>((r) => server.listen(0, '0.0.0.0', () => r()));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const registry = `${ip}:${(server.address() as AddressInfo).port}`;
  const r = await distill(['inspect', `docker://${registry}/tls/app:v1`]);
  assert.equal(r.code, 1);
  // Besides the progress line ("inspecting ... (0.0s)"), one line: the error.
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !/ \(\d+\.\ds\)$/.test(l));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /self-signed certificate.*NODE_EXTRA_CA_CERTS/);
  assert.doesNotMatch(r.stderr, /--insecure/);
});
