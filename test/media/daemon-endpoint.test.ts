import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { resolveDockerEndpoint } from '../../src/media/daemon/endpoint.js';
import { tempDir } from '../helpers/components.js';

/**
 * Finding the Docker engine as the docker CLI does: DOCKER_HOST, DOCKER_CONTEXT, the config's
 * currentContext and its context store, TLS files, and the errors of bad values. Host parsing
 * and ssh arguments are in daemon-host.test.ts; real engines in test/e2e/daemon-*.test.ts.
 */

const PEM = '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n';

function contextId(name: string): string {
  return createHash('sha256').update(name).digest('hex');
}

/** Writes a context store entry the way `docker context create` lays it out. */
async function writeContext(
  configDir: string,
  name: string,
  docker: Record<string, unknown> | undefined,
  tls: Record<string, string> = {},
): Promise<string> {
  const meta = join(configDir, 'contexts', 'meta', contextId(name));
  await mkdir(meta, { recursive: true });
  const endpoints = docker === undefined ? {} : { docker };
  await writeFile(
    join(meta, 'meta.json'),
    JSON.stringify({ Name: name, Metadata: {}, Endpoints: endpoints }),
  );
  if (Object.keys(tls).length > 0) {
    const dir = join(configDir, 'contexts', 'tls', contextId(name), 'docker');
    await mkdir(dir, { recursive: true });
    for (const [f, text] of Object.entries(tls)) await writeFile(join(dir, f), text);
  }
  return join(meta, 'meta.json');
}

let dir = '';
let config = '';
let home = '';
let certs = '';
before(async () => {
  dir = await tempDir('distill-endpoint-');
  config = join(dir, 'config');
  home = join(dir, 'home');
  certs = join(dir, 'certs');
  await mkdir(config);
  await mkdir(join(home, '.docker'), { recursive: true });
  await mkdir(certs);
  await writeFile(join(certs, 'ca.pem'), PEM);
  await writeFile(join(config, 'config.json'), JSON.stringify({ auths: {}, currentContext: 'remote' }));
  await writeContext(config, 'remote', { Host: 'tcp://10.1.1.1:2376', SkipTLSVerify: false });
  await writeContext(config, 'ci', { Host: 'ssh://ci@10.2.2.2' });
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('nothing set: the default socket', async () => {
  const ep = await resolveDockerEndpoint({ HOME: home });
  assert.equal(ep.url, 'unix:///var/run/docker.sock');
  assert.equal(ep.origin, 'the default host');
});

test('DOCKER_HOST beats DOCKER_CONTEXT, which beats currentContext', async () => {
  let ep = await resolveDockerEndpoint({
    DOCKER_CONFIG: config,
    DOCKER_CONTEXT: 'ci',
    DOCKER_HOST: 'unix:///x.sock',
  });
  assert.equal(ep.url, 'unix:///x.sock');
  assert.equal(ep.origin, 'DOCKER_HOST');
  ep = await resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'ci' });
  assert.equal(ep.url, 'ssh://ci@10.2.2.2');
  assert.equal(ep.origin, 'docker context "ci" (DOCKER_CONTEXT)');
  ep = await resolveDockerEndpoint({ DOCKER_CONFIG: config });
  assert.equal(ep.url, 'tcp://10.1.1.1:2376');
  assert.equal(ep.origin, `docker context "remote" (currentContext in ${join(config, 'config.json')})`);
  assert.equal(ep.kind === 'tcp' && ep.tls, undefined, 'a context without TLS files is plain tcp');
});

test('an empty DOCKER_HOST or DOCKER_CONTEXT counts as unset; "default" is the environment', async () => {
  let ep = await resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_HOST: '', DOCKER_CONTEXT: '' });
  assert.equal(ep.url, 'tcp://10.1.1.1:2376');
  ep = await resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'default' });
  assert.equal(ep.url, 'unix:///var/run/docker.sock');
});

test('the config directory is DOCKER_CONFIG, else $HOME/.docker', async () => {
  await writeFile(join(home, '.docker', 'config.json'), JSON.stringify({ currentContext: 'home-ctx' }));
  await writeContext(join(home, '.docker'), 'home-ctx', { Host: 'unix:///home.sock' });
  const ep = await resolveDockerEndpoint({ HOME: home });
  assert.equal(ep.url, 'unix:///home.sock');
  await rm(join(home, '.docker', 'config.json'));
});

test('a context with TLS files gets them; SkipTLSVerify turns verification off', async () => {
  await writeContext(
    config,
    'tls',
    { Host: 'tcp://10.3.3.3:2376' },
    { 'ca.pem': PEM, 'cert.pem': 'CERT', 'key.pem': 'KEY' },
  );
  let ep = await resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'tls' });
  assert.ok(ep.kind === 'tcp' && ep.tls);
  assert.equal(ep.tls.verify, true);
  assert.equal(ep.tls.ca?.toString(), PEM);
  assert.equal(ep.tls.cert?.toString(), 'CERT');
  assert.equal(ep.tls.key?.toString(), 'KEY');
  assert.equal(ep.tls.dir, join(config, 'contexts', 'tls', contextId('tls'), 'docker'));
  await writeContext(config, 'skip', { Host: 'tcp://10.3.3.3:2376', SkipTLSVerify: true });
  ep = await resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'skip' });
  assert.ok(ep.kind === 'tcp' && ep.tls);
  assert.equal(ep.tls.verify, false);
  await writeContext(config, 'half', { Host: 'tcp://10.3.3.3:2376' }, { 'cert.pem': 'CERT' });
  await assert.rejects(resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'half' }), {
    code: 'DAEMON_TLS',
    message: /holds cert\.pem but no key\.pem/,
  });
});

test('field names match regardless of case, as Go decodes them; no Host means the local socket', async () => {
  const meta = join(config, 'contexts', 'meta', contextId('lower'));
  await mkdir(meta, { recursive: true });
  await writeFile(
    join(meta, 'meta.json'),
    '{"name":"lower","endpoints":{"docker":{"host":"tcp://10.4.4.4:1"}}}',
  );
  assert.equal(
    (await resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'lower' })).url,
    'tcp://10.4.4.4:1',
  );
  await writeContext(config, 'nohost', {});
  assert.equal(
    (await resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'nohost' })).url,
    'unix:///var/run/docker.sock',
  );
});

test('bad contexts and configs are DAEMON_HOST_INVALID naming the file', async () => {
  await assert.rejects(
    resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'nope' }),
    (err: Error) => {
      assert.equal((err as { code?: string }).code, 'DAEMON_HOST_INVALID');
      assert.ok(
        err.message.includes(join(config, 'contexts', 'meta', contextId('nope'), 'meta.json')),
        err.message,
      );
      assert.match(err.message, /docker context "nope" \(DOCKER_CONTEXT\) does not exist/);
      return true;
    },
  );
  await writeContext(config, 'noendpoint', undefined);
  await assert.rejects(resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'noendpoint' }), {
    code: 'DAEMON_HOST_INVALID',
    message: /has no docker endpoint/,
  });
  await writeContext(config, 'badhost', { Host: 'http://x' });
  await assert.rejects(resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'badhost' }), {
    code: 'DAEMON_HOST_INVALID',
    message: /the Host of docker context "badhost" .* is "http:\/\/x", not a Docker host/,
  });
  await writeContext(config, 'badtype', { Host: 7 });
  await assert.rejects(resolveDockerEndpoint({ DOCKER_CONFIG: config, DOCKER_CONTEXT: 'badtype' }), {
    code: 'DAEMON_HOST_INVALID',
    message: /must have a string Host/,
  });
  const broken = join(dir, 'broken');
  await mkdir(broken);
  await writeFile(join(broken, 'config.json'), '{"currentContext": ');
  await assert.rejects(resolveDockerEndpoint({ DOCKER_CONFIG: broken }), {
    code: 'DAEMON_HOST_INVALID',
    message: new RegExp(`${join(broken, 'config.json')} is not valid JSON`),
  });
  await writeFile(join(broken, 'config.json'), '{"currentContext": 3}');
  await assert.rejects(resolveDockerEndpoint({ DOCKER_CONFIG: broken }), { code: 'DAEMON_HOST_INVALID' });
});

test('DOCKER_TLS_VERIFY: TLS with the files of DOCKER_CERT_PATH, verified; DOCKER_TLS: not verified', async () => {
  let ep = await resolveDockerEndpoint({
    DOCKER_HOST: 'tcp://10.5.5.5:2376',
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: certs,
  });
  assert.ok(ep.kind === 'tcp' && ep.tls);
  assert.equal(ep.tls.verify, true);
  assert.equal(ep.tls.ca?.toString(), PEM);
  assert.equal(ep.tls.cert, undefined, 'no client certificate when cert.pem and key.pem are absent');
  ep = await resolveDockerEndpoint({
    DOCKER_HOST: 'tcp://10.5.5.5:2376',
    DOCKER_TLS: '1',
    DOCKER_CERT_PATH: certs,
  });
  assert.ok(ep.kind === 'tcp' && ep.tls);
  assert.equal(ep.tls.verify, false);
  // TLS wanted, no DOCKER_HOST: the docker CLI's default TLS host
  ep = await resolveDockerEndpoint({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs, HOME: home });
  assert.equal(ep.url, 'tcp://localhost:2376');
  // TLS settings do not apply to a socket
  ep = await resolveDockerEndpoint({
    DOCKER_HOST: 'unix:///x.sock',
    DOCKER_TLS_VERIFY: '1',
    DOCKER_CERT_PATH: dir,
  });
  assert.equal(ep.kind, 'unix');
});

test('DOCKER_TLS_VERIFY without ca.pem, or with half a client certificate, is DAEMON_TLS naming the file', async () => {
  const empty = join(dir, 'nocerts');
  await mkdir(empty);
  await assert.rejects(
    resolveDockerEndpoint({
      DOCKER_HOST: 'tcp://10.5.5.5:2376',
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: empty,
    }),
    (err: Error) => {
      assert.equal((err as { code?: string }).code, 'DAEMON_TLS');
      assert.ok(err.message.includes(`${join(empty, 'ca.pem')} does not exist`), err.message);
      return true;
    },
  );
  // Without DOCKER_CERT_PATH the files are looked for in the docker config directory.
  await assert.rejects(
    resolveDockerEndpoint({
      DOCKER_HOST: 'tcp://10.5.5.5:2376',
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CONFIG: empty,
    }),
    { code: 'DAEMON_TLS', message: /DOCKER_CERT_PATH is not set, so the docker config directory/ },
  );
  const half = join(dir, 'half');
  await mkdir(half);
  await writeFile(join(half, 'ca.pem'), PEM);
  await writeFile(join(half, 'key.pem'), 'KEY');
  await assert.rejects(
    resolveDockerEndpoint({
      DOCKER_HOST: 'tcp://10.5.5.5:2376',
      DOCKER_TLS_VERIFY: '1',
      DOCKER_CERT_PATH: half,
    }),
    {
      code: 'DAEMON_TLS',
      message: new RegExp(`${join(half, 'key.pem')} exists but ${join(half, 'cert.pem')} does not`),
    },
  );
});
