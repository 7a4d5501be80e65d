import assert from 'node:assert/strict';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { parseWwwAuthenticate } from '../../src/media/registry/auth.js';
import { normalizeConfigKey, resolveCredentials } from '../../src/media/registry/credentials.js';
import { openRegistry, pushToRegistry, resolveRegistryDigest } from '../../src/media/registry/index.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { htpasswdLine, requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { assertLayersPull, listTags, makeImage, randomLayer } from '../helpers/registry-images.js';
import { startRegistryProxy } from '../helpers/registry-proxy.js';

const USER = 'alice';
const PASSWORD = 'correct horse';

async function authRegistry(t: TestContext): Promise<string | undefined> {
  if (!requireComponents(t, 'docker-registry', 'htpasswd')) return undefined;
  const reg = await startRegistry({ htpasswd: `${htpasswdLine(USER, PASSWORD)}\n` });
  t.after(() => reg.stop());
  return reg.host;
}

function basic(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

async function writeConfig(config: unknown): Promise<string> {
  const dir = await tempDir('distill-docker-config-');
  const path = join(dir, 'config.json');
  await writeFile(path, JSON.stringify(config));
  return path;
}

/** Puts executable scripts named `docker-credential-<name>` on PATH for the test. */
async function credentialHelpers(t: TestContext, scripts: Record<string, string>): Promise<void> {
  const dir = await tempDir('distill-cred-helpers-');
  for (const [name, body] of Object.entries(scripts)) {
    const path = join(dir, `docker-credential-${name}`);
    await writeFile(path, `#!/bin/sh\n${body}\n`);
    await chmod(path, 0o755);
  }
  const before = process.env.PATH;
  process.env.PATH = `${dir}:${before ?? ''}`;
  t.after(() => {
    process.env.PATH = before;
  });
}

test('parseWwwAuthenticate reads bearer and basic challenges', () => {
  assert.deepEqual(
    parseWwwAuthenticate(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
    ),
    [
      {
        scheme: 'bearer',
        params: {
          realm: 'https://auth.docker.io/token',
          service: 'registry.docker.io',
          scope: 'repository:library/busybox:pull',
        },
      },
    ],
  );
  assert.deepEqual(parseWwwAuthenticate('Basic realm="distill-test"'), [
    { scheme: 'basic', params: { realm: 'distill-test' } },
  ]);
  assert.deepEqual(parseWwwAuthenticate('Bearer realm="a\\"b", error=insufficient_scope, Basic realm=x'), [
    { scheme: 'bearer', params: { realm: 'a"b', error: 'insufficient_scope' } },
    { scheme: 'basic', params: { realm: 'x' } },
  ]);
});

test('credentials: --creds wins; config keys match host, https://host and http://host; Docker Hub key', async () => {
  assert.equal(normalizeConfigKey('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(normalizeConfigKey('http://Reg.Example:5000'), 'reg.example:5000');
  const path = await writeConfig({
    auths: {
      'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hubpass').toString('base64') },
      'http://reg.example:5000': { username: 'u2', password: 'p:2' },
      'https://ghcr.io': { auth: Buffer.from('gh:tok').toString('base64') },
    },
  });
  assert.deepEqual(await resolveCredentials('docker.io', { dockerConfigPath: path }), {
    username: 'hubuser',
    password: 'hubpass',
  });
  assert.deepEqual(await resolveCredentials('reg.example:5000', { dockerConfigPath: path }), {
    username: 'u2',
    password: 'p:2',
  });
  assert.deepEqual(await resolveCredentials('ghcr.io', { dockerConfigPath: path }), {
    username: 'gh',
    password: 'tok',
  });
  assert.equal(await resolveCredentials('quay.io', { dockerConfigPath: path }), undefined);
  assert.deepEqual(
    await resolveCredentials('ghcr.io', { dockerConfigPath: path, creds: { username: 'x', password: 'y' } }),
    { username: 'x', password: 'y' },
  );
  assert.equal(
    await resolveCredentials('ghcr.io', { dockerConfigPath: join(path, '..', 'missing.json') }),
    undefined,
  );
});

test('htpasswd registry: --creds push and pull; anonymous and wrong password are AUTH_FAILED', async (t) => {
  const host = await authRegistry(t);
  if (!host) return;
  const image = makeImage([randomLayer(3000)]);
  const ref = parseDockerReference(`${host}/distill/secure:1`);
  const nowhere = await writeConfig({}); // keeps the user's own ~/.docker/config.json out of the test

  await assert.rejects(
    pushToRegistry(ref, image, { creds: { username: USER, password: 'wrong' }, dockerConfigPath: nowhere }),
    (err) =>
      isDistillError(err, 'AUTH_FAILED') &&
      err.message.includes(host) &&
      err.message.includes(`docker login ${host}`) &&
      /username and password/.test(err.message),
  );
  assert.deepEqual(await listTags(host, 'distill/secure', basic(USER, PASSWORD)), []);

  await assert.rejects(
    pushToRegistry(ref, image, { dockerConfigPath: nowhere }),
    (err) => isDistillError(err, 'AUTH_FAILED') && /requires authentication/.test(err.message),
  );

  const creds = { username: USER, password: PASSWORD };
  const { digest } = await pushToRegistry(ref, image, { creds, dockerConfigPath: nowhere });
  assert.deepEqual(await listTags(host, 'distill/secure', basic(USER, PASSWORD)), ['1']);
  const pulled = await openRegistry(ref, { creds, dockerConfigPath: nowhere });
  assert.equal(pulled.manifest.digest, digest);
  if (pulled.kind !== 'image') throw new Error('expected an image');
  await assertLayersPull(pulled, image);
  await assert.rejects(openRegistry(ref, { dockerConfigPath: nowhere }), (err) =>
    isDistillError(err, 'AUTH_FAILED'),
  );
});

test('htpasswd registry: credentials from a config.json auths entry', async (t) => {
  const host = await authRegistry(t);
  if (!host) return;
  const path = await writeConfig({
    auths: { [`http://${host}`]: { auth: Buffer.from(`${USER}:${PASSWORD}`).toString('base64') } },
  });
  const image = makeImage([randomLayer(100)]);
  const ref = parseDockerReference(`${host}/distill/fromconfig:a`);
  const { digest } = await pushToRegistry(ref, image, { dockerConfigPath: path });
  assert.deepEqual(await resolveRegistryDigest(ref, { dockerConfigPath: path }), {
    digest,
    mediaType: image.manifest.mediaType,
    size: image.manifest.bytes.length,
  });

  const wrong = await writeConfig({ auths: { [host]: { username: USER, password: 'nope' } } });
  await assert.rejects(resolveRegistryDigest(ref, { dockerConfigPath: wrong }), (err) =>
    isDistillError(err, 'AUTH_FAILED'),
  );
});

test('htpasswd registry: credentials from a credHelpers entry; a failing helper is CREDENTIAL_HELPER', async (t) => {
  const host = await authRegistry(t);
  if (!host) return;
  await credentialHelpers(t, {
    test: [
      'host=$(cat)',
      `if [ "$1" = get ] && [ "$host" = "${host}" ]; then`,
      `  printf '{"ServerURL":"%s","Username":"${USER}","Secret":"${PASSWORD}"}' "$host"`,
      '  exit 0',
      'fi',
      'echo "credentials not found in native keychain"',
      'exit 1',
    ].join('\n'),
    broken: 'cat >/dev/null\necho "keychain locked" >&2\nexit 3',
  });
  const image = makeImage([randomLayer(100)]);
  const ref = parseDockerReference(`${host}/distill/helper:1`);
  const path = await writeConfig({ credHelpers: { [host]: 'test' }, auths: { [host]: {} } });
  const { digest } = await pushToRegistry(ref, image, { dockerConfigPath: path });
  assert.equal((await openRegistry(ref, { dockerConfigPath: path })).manifest.digest, digest);

  // credsStore is asked for hosts without a helper of their own; "not found" means anonymous
  const store = await writeConfig({ credsStore: 'test' });
  assert.equal((await resolveRegistryDigest(ref, { dockerConfigPath: store })).digest, digest);
  assert.equal(await resolveCredentials('other.example', { dockerConfigPath: store }), undefined);

  const broken = await writeConfig({ credHelpers: { [host]: 'broken' } });
  await assert.rejects(
    openRegistry(ref, { dockerConfigPath: broken }),
    (err) =>
      isDistillError(err, 'CREDENTIAL_HELPER') &&
      err.message.includes('docker-credential-broken') &&
      err.message.includes('keychain locked'),
  );
  const absent = await writeConfig({ credHelpers: { [host]: 'absent-helper' } });
  await assert.rejects(
    openRegistry(ref, { dockerConfigPath: absent }),
    (err) => isDistillError(err, 'CREDENTIAL_HELPER') && /not on PATH/.test(err.message),
  );
});

test('bearer token flow: scopes requested, token cached, bad credentials AUTH_FAILED', async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startRegistryProxy(reg.host);
  t.after(() => proxy.stop());
  proxy.requireBearer({ username: USER, password: PASSWORD });
  const nowhere = await writeConfig({});
  const image = makeImage([randomLayer(100), randomLayer(200), randomLayer(300)]);
  const ref = parseDockerReference(`${proxy.host}/distill/tokens:1`);

  await assert.rejects(
    pushToRegistry(ref, image, { creds: { username: USER, password: 'bad' }, dockerConfigPath: nowhere }),
    (err) => isDistillError(err, 'AUTH_FAILED') && err.message.includes(proxy.host),
  );
  await assert.rejects(
    openRegistry(ref, { dockerConfigPath: nowhere }),
    (err) => isDistillError(err, 'AUTH_FAILED') && /requires authentication/.test(err.message),
  );
  proxy.tokenRequests.length = 0;

  const creds = { username: USER, password: PASSWORD };
  const { digest } = await pushToRegistry(ref, image, { creds, dockerConfigPath: nowhere });
  // one token for the whole push, with both actions
  assert.deepEqual(proxy.tokenRequests, [
    { scopes: ['repository:distill/tokens:pull,push'], authorized: true },
  ]);
  const pulled = await openRegistry(ref, { creds, dockerConfigPath: nowhere });
  assert.equal(pulled.manifest.digest, digest);
  if (pulled.kind !== 'image') throw new Error('expected an image');
  await assertLayersPull(pulled, image);
  assert.deepEqual(proxy.tokenRequests.at(-1), {
    scopes: ['repository:distill/tokens:pull'],
    authorized: true,
  });
  assert.equal(proxy.tokenRequests.length, 2);
  // every registry request after the ping carried the token
  const v2 = proxy.log.filter((e) => e.path.startsWith('/v2/') && e.path !== '/v2/' && e.status !== 401);
  assert.ok(v2.length > 5);
  assert.ok(v2.every((e) => e.authorization === 'Bearer'));
});

test("a layer's registrySource (a build cache's repository) is mounted from, with a token that may pull it", async (t) => {
  if (!requireComponents(t, 'docker-registry')) return;
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const proxy = await startRegistryProxy(reg.host);
  t.after(() => proxy.stop());
  proxy.requireBearer({ username: USER, password: PASSWORD });
  const nowhere = await writeConfig({});
  const creds = { username: USER, password: PASSWORD };
  const cached = randomLayer(500);
  await pushToRegistry(parseDockerReference(`${proxy.host}/cache/app:entry`), makeImage([cached]), {
    creds,
    dockerConfigPath: nowhere,
  });
  proxy.tokenRequests.length = 0;
  const from = proxy.log.length;
  const own = randomLayer(300);
  const source = { registry: proxy.host, repository: 'cache/app' };
  const plain = makeImage([cached, own]);
  const image = { ...plain, layers: [{ ...plain.layers[0]!, registrySource: source }, plain.layers[1]!] };
  await pushToRegistry(parseDockerReference(`${proxy.host}/out/app:1`), image, {
    creds,
    dockerConfigPath: nowhere,
  });
  // The blobs' token may also pull the repository they are mounted from.
  assert.ok(
    proxy.tokenRequests.some(
      (r) => r.authorized && r.scopes.join(' ') === 'repository:out/app:pull,push repository:cache/app:pull',
    ),
    JSON.stringify(proxy.tokenRequests),
  );
  const uploads = proxy.log.slice(from).filter((e) => e.path.startsWith('/v2/out/app/blobs/uploads'));
  const mounted = uploads.filter((e) => e.query.includes('mount=') && e.status === 201);
  assert.equal(mounted.length, 1);
  assert.ok(mounted[0]!.query.includes(encodeURIComponent(cached.descriptor.digest)));
  assert.ok(mounted[0]!.query.includes('from=cache%2Fapp'));
  // Only the other layer and the config went up.
  const uploaded = uploads.reduce((n, e) => n + e.uploaded, 0);
  assert.equal(uploaded, own.descriptor.size + image.config.bytes.length);
});
