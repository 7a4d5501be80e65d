import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DaemonClient } from '../../src/media/daemon/client.js';
import { parseDockerHost } from '../../src/media/daemon/endpoint.js';
import { shellQuote, sshArgs } from '../../src/media/daemon/ssh.js';
import { freePort, tempDir } from '../helpers/components.js';

/**
 * Docker host values as the docker CLI parses them, the ssh arguments it passes, and what the
 * client says when it cannot connect. Resolution (DOCKER_HOST, contexts, TLS files) is tested in
 * daemon-endpoint.test.ts; real engines over TLS, ssh and contexts in test/e2e/daemon-*.test.ts.
 */

describe('parseDockerHost: the docker CLI forms', () => {
  test('unix, tcp (with defaults), a bare host:port, ssh', () => {
    assert.deepEqual(parseDockerHost('unix:///run/user/1000/docker.sock'), {
      kind: 'unix',
      path: '/run/user/1000/docker.sock',
      url: 'unix:///run/user/1000/docker.sock',
      origin: 'DOCKER_HOST',
    });
    assert.equal(parseDockerHost('unix://').url, 'unix:///var/run/docker.sock');
    assert.deepEqual(parseDockerHost('tcp://10.0.0.7'), {
      kind: 'tcp',
      host: '10.0.0.7',
      port: 2375,
      basePath: '',
      url: 'tcp://10.0.0.7:2375',
      origin: 'DOCKER_HOST',
    });
    assert.equal(parseDockerHost('tcp://:2376').url, 'tcp://localhost:2376');
    assert.equal(parseDockerHost('tcp://').url, 'tcp://localhost:2375');
    assert.equal(parseDockerHost('  10.0.0.7:2376 ').url, 'tcp://10.0.0.7:2376');
    const v6 = parseDockerHost('tcp://[::1]:2376/engine/');
    assert.equal(v6.kind === 'tcp' && v6.host, '::1');
    assert.equal(v6.kind === 'tcp' && v6.basePath, '/engine');
    assert.equal(v6.url, 'tcp://[::1]:2376/engine');
    assert.deepEqual(parseDockerHost('ssh://deploy@build-1.example:2222'), {
      kind: 'ssh',
      host: 'build-1.example',
      user: 'deploy',
      port: 2222,
      url: 'ssh://deploy@build-1.example:2222',
      origin: 'DOCKER_HOST',
    });
    const withSocket = parseDockerHost('ssh://h/run/docker.sock');
    assert.equal(withSocket.kind === 'ssh' && withSocket.socketPath, '/run/docker.sock');
    const slash = parseDockerHost('ssh://h/');
    assert.equal(slash.kind === 'ssh' && slash.socketPath, undefined);
  });

  test('values the docker CLI refuses are DAEMON_HOST_INVALID, naming the variable and value', () => {
    const cases: [string, RegExp][] = [
      ['http://10.0.0.7:2375', /takes tcp:\/\/, not http:\/\//],
      ['https://10.0.0.7', /not https:\/\//],
      ['npipe:////./pipe/docker_engine', /Windows only/],
      ['fd://', /fd:\/\//],
      ['tcp://h:port', /does not parse/],
      ['tcp://h:99999', /does not parse/],
      ['tcp://me@h:2375', /no user/],
      ['tcp://unix:///x', /two schemes/],
      ['ssh://me:secret@h', /password/],
      ['ssh://h?x=1', /query/],
      ['ssh://', /empty/],
      ['ssh://-oProxyCommand=touch@h', /may not start with "-"/],
      ['ssh://-oProxyCommand=x', /may not start with "-"/],
      ['gopher://h', /unknown scheme gopher/],
    ];
    for (const [value, why] of cases) {
      assert.throws(
        () => parseDockerHost(value),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, 'DAEMON_HOST_INVALID', value);
          assert.match(err.message, /^DOCKER_HOST is "/, value);
          assert.ok(err.message.includes(JSON.stringify(value)), err.message);
          assert.match(err.message, why, value);
          return true;
        },
      );
    }
  });
});

describe('ssh: the docker CLI arguments', () => {
  test('-l USER -p PORT -o ConnectTimeout=30 -T -- HOST and the remote command', () => {
    assert.deepEqual(sshArgs(parseDockerHost('ssh://me@h.example:2222') as never), [
      '-l',
      'me',
      '-p',
      '2222',
      '-o',
      'ConnectTimeout=30',
      '-T',
      '--',
      'h.example',
      'docker system dial-stdio',
    ]);
    assert.deepEqual(sshArgs(parseDockerHost("ssh://h/run/my docker's.sock") as never).slice(-2), [
      'h',
      `docker '--host=unix:///run/my docker'\\''s.sock' system dial-stdio`,
    ]);
    assert.equal(shellQuote('plain-word_1.sock'), 'plain-word_1.sock');
    assert.equal(shellQuote('a b'), `'a b'`);
  });
});

describe('DaemonClient: connection errors say where and what to check', () => {
  test('a socket that is not there, a port nobody listens on: DAEMON_UNAVAILABLE', async () => {
    const dir = await tempDir('distill-client-');
    try {
      const sock = join(dir, 'none.sock');
      let client = new DaemonClient(parseDockerHost(`unix://${sock}`));
      await assert.rejects(client.request('GET', '/_ping'), (err: Error) => {
        assert.equal((err as { code?: string }).code, 'DAEMON_UNAVAILABLE');
        assert.ok(err.message.includes(`unix://${sock} (DOCKER_HOST)`), err.message);
        return true;
      });
      const port = await freePort();
      client = new DaemonClient(parseDockerHost(`tcp://127.0.0.1:${port}`));
      await assert.rejects(client.request('GET', '/_ping'), {
        code: 'DAEMON_UNAVAILABLE',
        message: /ECONNREFUSED/,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an ssh that fails: DAEMON_UNAVAILABLE with its exit status and what it printed', async () => {
    const client = new DaemonClient(parseDockerHost('ssh://nobody@192.0.2.1:2222'), {
      ...process.env,
      DISTILL_SSH_COMMAND: `sh -c 'echo "ssh: connect to host 192.0.2.1: no route ($*)" >&2; exit 255' ssh`,
    });
    await assert.rejects(client.request('GET', '/_ping'), (err: Error) => {
      assert.equal((err as { code?: string }).code, 'DAEMON_UNAVAILABLE');
      assert.match(err.message, /exit status 255/);
      assert.match(err.message, /ssh said: ssh: connect to host 192\.0\.2\.1: no route/);
      // the arguments the docker CLI passes reached the command
      assert.match(
        err.message,
        /-l nobody -p 2222 -o ConnectTimeout=30 -T -- 192\.0\.2\.1 docker system dial-stdio/,
      );
      return true;
    });
  });

  test('an ssh that is not installed: DAEMON_UNAVAILABLE saying so', async () => {
    const client = new DaemonClient(parseDockerHost('ssh://h'), { PATH: '/nonexistent' });
    await assert.rejects(client.request('GET', '/_ping'), {
      code: 'DAEMON_UNAVAILABLE',
      message: /ssh is not installed/,
    });
  });

  test('a server that closes the connection: DAEMON, naming the endpoint', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      const client = new DaemonClient(parseDockerHost(`tcp://127.0.0.1:${port}`));
      await assert.rejects(client.request('GET', '/_ping'), {
        code: 'DAEMON',
        message: new RegExp(`tcp://127\\.0\\.0\\.1:${port} \\(DOCKER_HOST\\) failed`),
      });
    } finally {
      server.close();
    }
  });
});
