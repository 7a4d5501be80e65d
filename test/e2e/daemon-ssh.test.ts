import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, type TestContext, test } from 'node:test';
import { openArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { dockerAvailable, requireComponents, tempDir } from '../helpers/components.js';
import { startSshd, type TestSshd } from '../helpers/daemons.js';
import { docker, importBusyboxImage, removeImages } from '../helpers/docker.js';

/**
 * DOCKER_HOST=ssh://root@127.0.0.1:PORT: distill runs `ssh … -- 127.0.0.1 docker system dial-stdio`
 * as the docker CLI does, against Debian's sshd started by the test on a loopback port with its
 * own keys; the ssh client gets the user key from the test's ssh-agent and trusts the host key
 * through an ssh config given in DISTILL_SSH_COMMAND, so the real ~/.ssh is left alone. On the
 * "remote" side, Debian's docker CLI reaches the machine's running engine.
 */
const SOURCE = `distill-h3-ssh/busybox:${process.pid}`;
const TARGET = `distill-h3-ssh/copied:${process.pid}`;

let dir = '';
let sshd: TestSshd | undefined;

before(async () => {
  dir = await tempDir('distill-h3-ssh-');
});
after(async () => {
  await sshd?.stop();
  if (dockerAvailable()) removeImages([SOURCE, TARGET]);
  await rm(dir, { recursive: true, force: true });
});

async function ready(t: TestContext): Promise<TestSshd | undefined> {
  if (!requireComponents(t, 'docker', 'sshd', 'ssh', 'ssh-keygen', 'ssh-agent', 'ssh-add')) return undefined;
  sshd ??= await startSshd(join(dir, 'sshd'));
  return sshd;
}

test('copy to and inspect docker-daemon: over ssh; the engine agrees', async (t) => {
  const s = await ready(t);
  if (!s) return;
  await importBusyboxImage(dir, SOURCE, 'h3-ssh');
  const layout = join(dir, 'layout');
  const cache = join(dir, 'cache');
  let r = await distill(['copy', '-q', `docker-daemon:${SOURCE}`, `oci:${layout}:v1`], {
    DISTILL_CACHE: cache,
  });
  assert.equal(r.code, 0, r.stderr);

  const env = { ...s.env, DOCKER_HOST: s.host, DISTILL_CACHE: cache };
  r = await distill(['copy', '-q', '--format', 'json', `oci:${layout}:v1`, `docker-daemon:${TARGET}`], env);
  assert.equal(r.code, 0, r.stderr);
  const written = JSON.parse(r.stdout).destination.digest as string;

  r = await distill(['inspect', '--format', 'json', `docker-daemon:${TARGET}`], env);
  assert.equal(r.code, 0, r.stderr);
  const facts = JSON.parse(r.stdout);
  assert.equal(facts.source.manifestDigest, written);
  const seen = JSON.parse(docker(['image', 'inspect', TARGET]))[0];
  assert.equal(facts.source.configDigest, seen.Id);
  assert.deepEqual(
    facts.layers.map((l: { diffId: string }) => l.diffId),
    seen.RootFS.Layers,
  );
});

test('an ssh that does not trust the host key: DAEMON_UNAVAILABLE with what ssh said', async (t) => {
  const s = await ready(t);
  if (!s) return;
  const env = { ...s.env, DISTILL_SSH_COMMAND: `ssh -F ${s.untrustingConfig}`, DOCKER_HOST: s.host };
  await assert.rejects(
    openArtifact(parseImageRef(`docker-daemon:${SOURCE}`), { daemon: { env } }),
    (err: Error) => {
      assert.equal((err as { code?: string }).code, 'DAEMON_UNAVAILABLE');
      assert.ok(err.message.includes(`${s.host} (DOCKER_HOST) through ssh`), err.message);
      assert.match(err.message, /exit status 255/);
      assert.match(err.message, /Host key verification failed/);
      return true;
    },
  );
});
