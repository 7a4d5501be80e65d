import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { openArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { dockerAvailable, requireComponents, tempDir } from '../helpers/components.js';
import { docker, importBusyboxImage, removeImages } from '../helpers/docker.js';

/**
 * The docker config's currentContext, with a context store written by the test
 * (DOCKER_CONFIG=TMP): its endpoint is the running engine's socket, reached through a link
 * of the test's own so that only the context can have led there. A context pointing at a
 * socket nobody serves fails naming that context.
 */
const IMAGE = `distill-h3-ctx/busybox:${process.pid}`;

async function writeContext(config: string, name: string, host: string): Promise<void> {
  const meta = join(config, 'contexts', 'meta', createHash('sha256').update(name).digest('hex'));
  await mkdir(meta, { recursive: true });
  const doc = {
    Name: name,
    Metadata: { Description: 'distill test' },
    Endpoints: { docker: { Host: host, SkipTLSVerify: false } },
  };
  await writeFile(join(meta, 'meta.json'), JSON.stringify(doc));
}

let dir = '';
before(async () => {
  dir = await tempDir('distill-h3-ctx-');
});
after(async () => {
  if (dockerAvailable()) removeImages([IMAGE]);
  await rm(dir, { recursive: true, force: true });
});

test('currentContext in DOCKER_CONFIG/config.json leads to its endpoint', async (t) => {
  if (!requireComponents(t, 'docker')) return;
  await importBusyboxImage(dir, IMAGE, 'h3-ctx');
  const config = join(dir, 'config');
  const sock = join(dir, 'engine.sock');
  await symlink('/var/run/docker.sock', sock);
  await writeContext(config, 'via-link', `unix://${sock}`);
  await writeContext(config, 'nobody', `unix://${join(dir, 'nobody.sock')}`);
  await writeFile(join(config, 'config.json'), JSON.stringify({ auths: {}, currentContext: 'via-link' }));
  const env = { DOCKER_CONFIG: config, DISTILL_CACHE: join(dir, 'cache') };

  const r = await distill(['inspect', '--format', 'json', `docker-daemon:${IMAGE}`], env);
  assert.equal(r.code, 0, r.stderr);
  const seen = JSON.parse(docker(['image', 'inspect', IMAGE]))[0];
  assert.equal(JSON.parse(r.stdout).source.configDigest, seen.Id);

  // The context decides: one whose socket nobody serves fails, naming it.
  await writeFile(join(config, 'config.json'), JSON.stringify({ currentContext: 'nobody' }));
  await assert.rejects(
    openArtifact(parseImageRef(`docker-daemon:${IMAGE}`), { daemon: { env } }),
    (err: Error) => {
      assert.equal((err as { code?: string }).code, 'DAEMON_UNAVAILABLE');
      assert.ok(err.message.includes(`unix://${join(dir, 'nobody.sock')}`), err.message);
      assert.ok(
        err.message.includes(`docker context "nobody" (currentContext in ${join(config, 'config.json')})`),
        err.message,
      );
      return true;
    },
  );
  // DOCKER_HOST still wins over the context
  const back = await distill(['digest', `docker-daemon:${IMAGE}`], {
    ...env,
    DOCKER_HOST: `unix://${sock}`,
  });
  assert.equal(back.code, 0, back.stderr);
});
