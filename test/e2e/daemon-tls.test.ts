import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import { openArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { DOCKER, dockerAvailable, requireComponents, tempDir } from '../helpers/components.js';
import { startTlsDockerd, type TlsDockerd } from '../helpers/daemons.js';
import { importBusyboxImage, removeImages } from '../helpers/docker.js';

/**
 * DOCKER_HOST=tcp://… with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH (mutual TLS), against a second
 * dockerd the test starts with certificates it makes with openssl; then the same engine through
 * a docker context made by the real docker CLI (`docker context create`, `docker context use`).
 * A wrong CA, a missing client certificate and plain HTTP to the TLS port fail with DAEMON_TLS.
 */
const SOURCE = `distill-h3-tls/busybox:${process.pid}`;
const TARGET = 'distill-h3-tls/copied:1';

interface Facts {
  source: { manifestDigest: string; configDigest: string };
  layers: { digest: string; diffId: string; mediaType: string }[];
}

let dir = '';
let layout = '';
let engine: TlsDockerd | undefined;

before(async () => {
  dir = await tempDir('distill-h3-tls-');
  layout = join(dir, 'layout');
});
after(async () => {
  await engine?.stop();
  if (dockerAvailable()) removeImages([SOURCE]);
  await rm(dir, { recursive: true, force: true });
});

/** The TLS engine, started once, and an OCI layout of a small image to copy into it. */
async function ready(t: TestContext): Promise<TlsDockerd | undefined> {
  if (!requireComponents(t, 'docker', 'dockerd', 'openssl')) return undefined;
  if (engine === undefined) {
    engine = await startTlsDockerd(join(dir, 'dockerd'));
    await importBusyboxImage(dir, SOURCE, 'h3-tls');
    const r = await distill(['copy', '-q', `docker-daemon:${SOURCE}`, `oci:${layout}:v1`], {
      DISTILL_CACHE: join(dir, 'cache'),
    });
    assert.equal(r.code, 0, r.stderr);
  }
  return engine;
}

function tlsEnv(e: TlsDockerd, certPath: string): NodeJS.ProcessEnv {
  return {
    DOCKER_HOST: e.host,
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: certPath,
    DISTILL_CACHE: join(dir, 'cache'),
  };
}

function dockerInspect(e: TlsDockerd, image: string): { Id: string; RootFS: { Layers: string[] } } {
  const out = execFileSync(DOCKER, [...e.cliFlags, 'image', 'inspect', image], { encoding: 'utf8' });
  return JSON.parse(out)[0];
}

test('copy into and inspect from the TLS engine; the docker CLI agrees', async (t) => {
  const e = await ready(t);
  if (!e) return;
  const env = tlsEnv(e, e.certs.client);
  const copied = await distill(
    ['copy', '-q', '--format', 'json', `oci:${layout}:v1`, `docker-daemon:${TARGET}`],
    env,
  );
  assert.equal(copied.code, 0, copied.stderr);
  const written = JSON.parse(copied.stdout).destination.digest as string;

  const r = await distill(['inspect', '--format', 'json', `docker-daemon:${TARGET}`], env);
  assert.equal(r.code, 0, r.stderr);
  const facts = JSON.parse(r.stdout) as Facts;
  const seen = dockerInspect(e, TARGET);
  assert.equal(facts.source.configDigest, seen.Id);
  assert.deepEqual(
    facts.layers.map((l) => l.diffId),
    seen.RootFS.Layers,
  );
  // what was written is what is read back: same manifest
  assert.equal(facts.source.manifestDigest, written);
  // and the machine's own engine never saw it
  assert.throws(() => execFileSync(DOCKER, ['image', 'inspect', TARGET], { stdio: 'pipe' }));
});

test('a CA that did not sign the engine: DAEMON_TLS naming ca.pem', async (t) => {
  const e = await ready(t);
  if (!e) return;
  const env = tlsEnv(e, e.certs.wrongCa);
  await assert.rejects(
    openArtifact(parseImageRef(`docker-daemon:${TARGET}`), { daemon: { env } }),
    (err: Error) => {
      assert.equal((err as { code?: string }).code, 'DAEMON_TLS');
      assert.ok(err.message.includes(`${e.host} (DOCKER_HOST)`), err.message);
      assert.ok(err.message.includes(`not signed by ${join(e.certs.wrongCa, 'ca.pem')}`), err.message);
      return true;
    },
  );
  const r = await distill(['inspect', `docker-daemon:${TARGET}`], env);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /TLS with the Docker engine at tcp:\/\/127\.0\.0\.1:\d+ \(DOCKER_HOST\) failed/);
  // writing fails the same way, and stops packing the image
  const w = await distill(['copy', '-q', `oci:${layout}:v1`, 'docker-daemon:distill-h3-tls/never:1'], env);
  assert.equal(w.code, 1);
  assert.match(w.stderr, /TLS with the Docker engine at .* failed/);
});

test('no client certificate: DAEMON_TLS saying where cert.pem and key.pem go', async (t) => {
  const e = await ready(t);
  if (!e) return;
  const env = tlsEnv(e, e.certs.noClient);
  await assert.rejects(
    openArtifact(parseImageRef(`docker-daemon:${TARGET}`), { daemon: { env } }),
    (err: Error) => {
      assert.equal((err as { code?: string }).code, 'DAEMON_TLS');
      assert.ok(err.message.includes(`put cert.pem and key.pem in ${e.certs.noClient}`), err.message);
      return true;
    },
  );
});

test('plain HTTP to the TLS port: DAEMON_TLS telling to set DOCKER_TLS_VERIFY', async (t) => {
  const e = await ready(t);
  if (!e) return;
  const env = { DOCKER_HOST: e.host };
  await assert.rejects(openArtifact(parseImageRef(`docker-daemon:${TARGET}`), { daemon: { env } }), {
    code: 'DAEMON_TLS',
    message: /speaks TLS; set DOCKER_TLS_VERIFY=1/,
  });
});

test('a docker context made by the docker CLI reaches the TLS engine', async (t) => {
  const e = await ready(t);
  if (!e) return;
  const config = join(dir, 'docker-config');
  const certs = e.certs.client;
  const cli = (args: string[]) =>
    execFileSync(DOCKER, args, {
      env: { ...process.env, DOCKER_CONFIG: config },
      encoding: 'utf8',
      stdio: 'pipe',
    });
  cli([
    'context',
    'create',
    'distill-tls',
    '--docker',
    `host=${e.host},ca=${join(certs, 'ca.pem')},cert=${join(certs, 'cert.pem')},key=${join(certs, 'key.pem')}`,
  ]);
  cli(['context', 'use', 'distill-tls']);
  const env = { DOCKER_CONFIG: config, DISTILL_CACHE: join(dir, 'cache') };
  let r = await distill(['digest', `docker-daemon:${TARGET}`], env);
  assert.equal(r.code, 0, r.stderr);
  const digest = r.stdout.trim();
  assert.match(digest, /^sha256:/);
  // DOCKER_CONTEXT names it as well; "default" goes back to the machine's engine, which lacks it
  r = await distill(['digest', `docker-daemon:${TARGET}`], { ...env, DOCKER_CONTEXT: 'distill-tls' });
  assert.equal(r.stdout.trim(), digest);
  await assert.rejects(
    openArtifact(parseImageRef(`docker-daemon:${TARGET}`), {
      daemon: { env: { ...env, DOCKER_CONTEXT: 'default' } },
    }),
    { code: 'MANIFEST_UNKNOWN' },
  );
});
