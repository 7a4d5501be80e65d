import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DOCKER, freePort, which } from './components.js';

/**
 * Docker hosts a test starts for itself (test/e2e/daemon-*.test.ts): a second dockerd listening
 * on TCP with mutual TLS (certificates made with openssl), and an sshd on a loopback port whose
 * `docker system dial-stdio` reaches the machine's running engine. Both live in a temp dir and
 * stop() removes everything, whatever state they are in.
 */

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA (its key kept in dir) and a certificate signed by it. */
function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${name}-key.pem`,
      '-out',
      `${name}.pem`,
    ].concat(['-days', '2', '-subj', `/CN=distill test ${name}`]),
    dir,
  );
}

function signed(dir: string, ca: string, out: string, subject: string, ext: string): void {
  writeFileSync(join(dir, `${out}.ext`), `${ext}\n`);
  openssl(
    [
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      `${out}-key.pem`,
      '-out',
      `${out}.csr`,
      '-subj',
      subject,
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${out}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}-key.pem`,
      '-CAcreateserial',
    ].concat(['-out', `${out}.pem`, '-days', '2', '-extfile', `${out}.ext`]),
    dir,
  );
}

export interface TestCerts {
  /** ca.pem (the engine's CA), server.pem, server-key.pem. */
  dir: string;
  /** A DOCKER_CERT_PATH: ca.pem, cert.pem, key.pem of a client the engine trusts. */
  client: string;
  /** A DOCKER_CERT_PATH whose ca.pem is another CA (cert.pem and key.pem are the good ones). */
  wrongCa: string;
  /** A DOCKER_CERT_PATH with the right ca.pem and no client certificate. */
  noClient: string;
}

/** Makes a CA, a server certificate for IP:127.0.0.1 and a client certificate, with openssl. */
export async function makeCerts(dir: string): Promise<TestCerts> {
  await mkdir(dir, { recursive: true });
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  signed(dir, 'ca', 'server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth');
  signed(dir, 'ca', 'client', '/CN=distill-test-client', 'extendedKeyUsage=clientAuth');
  const certs: TestCerts = {
    dir,
    client: join(dir, 'client'),
    wrongCa: join(dir, 'wrong-ca'),
    noClient: join(dir, 'no-client'),
  };
  const ca = await readFile(join(dir, 'ca.pem'));
  const cert = await readFile(join(dir, 'client.pem'));
  const key = await readFile(join(dir, 'client-key.pem'));
  for (const [d, files] of [
    [certs.client, { 'ca.pem': ca, 'cert.pem': cert, 'key.pem': key }],
    [
      certs.wrongCa,
      { 'ca.pem': await readFile(join(dir, 'other-ca.pem')), 'cert.pem': cert, 'key.pem': key },
    ],
    [certs.noClient, { 'ca.pem': ca }],
  ] as const) {
    await mkdir(d);
    for (const [name, bytes] of Object.entries(files)) await writeFile(join(d, name), bytes, { mode: 0o600 });
  }
  return certs;
}

async function waitFor(
  what: string,
  ok: () => boolean | Promise<boolean>,
  proc: ChildProcess,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (await ok()) return;
    if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
      throw new Error(`${what} did not start: ${log().slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function stopProcess(proc: ChildProcess, graceMs: number): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export interface TlsDockerd {
  /** tcp://127.0.0.1:PORT */
  host: string;
  certs: TestCerts;
  /** The docker CLI's TLS flags for this engine (with the good client certificate). */
  cliFlags: string[];
  stop(): Promise<void>;
}

/**
 * A second dockerd of the test's own beside the machine's: TCP with --tlsverify on a free
 * loopback port, its own data root, exec root (where it starts its own containerd), pid file
 * and config file; no iptables, no bridge.
 */
export async function startTlsDockerd(dir: string): Promise<TlsDockerd> {
  const certs = await makeCerts(join(dir, 'certs'));
  const port = await freePort();
  const host = `tcp://127.0.0.1:${port}`;
  await writeFile(join(dir, 'daemon.json'), '{}\n');
  const logFd = openSync(join(dir, 'dockerd.log'), 'w');
  const proc = spawn(
    'dockerd',
    [
      ...['-H', host, '--tlsverify', '--tlscacert', join(certs.dir, 'ca.pem')],
      ...['--tlscert', join(certs.dir, 'server.pem'), '--tlskey', join(certs.dir, 'server-key.pem')],
      ...[
        '--data-root',
        join(dir, 'data'),
        '--exec-root',
        join(dir, 'exec'),
        '--pidfile',
        join(dir, 'dockerd.pid'),
      ],
      ...['--config-file', join(dir, 'daemon.json'), '--iptables=false', '--bridge=none'],
    ],
    { stdio: ['ignore', logFd, logFd] },
  );
  closeSync(logFd);
  const cliFlags = [
    ...['-H', host, '--tlsverify', '--tlscacert', join(certs.client, 'ca.pem')],
    ...['--tlscert', join(certs.client, 'cert.pem'), '--tlskey', join(certs.client, 'key.pem')],
  ];
  const stop = async () => {
    await stopProcess(proc, 20_000);
    // dockerd stops the containerd it started; one left by a killed dockerd is stopped here.
    const containerdPid = join(dir, 'exec', 'containerd', 'containerd.pid');
    if (existsSync(containerdPid)) {
      try {
        process.kill(Number(readFileSync(containerdPid, 'utf8').trim()), 'SIGKILL');
      } catch {
        // already gone
      }
    }
    unmountUnder(dir);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      `dockerd on ${host}`,
      () => {
        try {
          execFileSync(DOCKER, [...cliFlags, 'version'], { stdio: 'ignore', timeout: 10_000 });
          return true;
        } catch {
          return false;
        }
      },
      proc,
      () => readLog(join(dir, 'dockerd.log')),
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return { host, certs, cliFlags, stop };
}

function readLog(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Unmounts whatever a stopped dockerd left mounted under dir (overlay2, shm), deepest first. */
function unmountUnder(dir: string): void {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m], { stdio: 'ignore' });
    } catch {
      // gone meanwhile
    }
  }
}

export interface TestSshd {
  port: number;
  /** DOCKER_HOST for root on this sshd. */
  host: string;
  /** The environment distill needs: SSH_AUTH_SOCK of the test's agent, DISTILL_SSH_COMMAND. */
  env: NodeJS.ProcessEnv;
  /** An ssh config that trusts no host key (for the failure test). */
  untrustingConfig: string;
  stop(): Promise<void>;
}

/** Keys, sshd_config, known_hosts and the two client configs of a test sshd on `port`. */
async function writeSshFiles(dir: string, port: number): Promise<void> {
  for (const k of ['host_key', 'user_key']) {
    execFileSync('ssh-keygen', [
      '-q',
      '-t',
      'ed25519',
      '-N',
      '',
      '-C',
      `distill-test-${k}`,
      '-f',
      join(dir, k),
    ]);
  }
  await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')), { mode: 0o600 });
  const sshdConfig = [
    `HostKey ${join(dir, 'host_key')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    'PermitRootLogin prohibit-password',
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    // the "remote" docker CLI is Debian's, talking to the machine's running engine
    'SetEnv PATH=/usr/bin:/bin:/usr/sbin:/sbin',
  ];
  await writeFile(join(dir, 'sshd_config'), `${sshdConfig.join('\n')}\n`);
  const hostKey = (await readFile(join(dir, 'host_key.pub'), 'utf8')).split(' ').slice(0, 2).join(' ');
  await writeFile(join(dir, 'known_hosts'), `[127.0.0.1]:${port} ${hostKey}\n`);
  await writeFile(join(dir, 'empty_known_hosts'), '');
  const clientConfig = (knownHosts: string) =>
    `Host *\n  UserKnownHostsFile ${knownHosts}\n  GlobalKnownHostsFile /dev/null\n` +
    '  StrictHostKeyChecking yes\n  BatchMode yes\n  LogLevel ERROR\n';
  await writeFile(join(dir, 'ssh_config'), clientConfig(join(dir, 'known_hosts')));
  await writeFile(join(dir, 'untrusting_ssh_config'), clientConfig(join(dir, 'empty_known_hosts')));
}

/**
 * Debian's sshd on 127.0.0.1:PORT with the test's own host key, config and authorized_keys (no
 * PAM, public keys only), an ssh-agent holding the user key, and an ssh client config that
 * trusts that host key: nothing in the real ~/.ssh is needed or written.
 */
export async function startSshd(dir: string): Promise<TestSshd> {
  await mkdir(dir, { recursive: true });
  // sshd's privilege separation directory; the Debian service makes it at boot.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755 });
  const port = await freePort();
  await writeSshFiles(dir, port);

  const agentSock = join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
  let sshdLog = '';
  const sshd = spawn(
    which('sshd') ?? '/usr/sbin/sshd',
    ['-D', '-e', '-f', join(dir, 'sshd_config'), '-p', String(port), '-o', 'ListenAddress=127.0.0.1'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  sshd.stderr?.on('data', (c: Buffer) => {
    sshdLog += c.toString();
  });
  const stop = async () => {
    await stopProcess(sshd, 5_000);
    await stopProcess(agent, 5_000);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(
      'ssh-agent',
      () => existsSync(agentSock),
      agent,
      () => '',
    );
    execFileSync('ssh-add', ['-q', join(dir, 'user_key')], {
      env: { ...process.env, SSH_AUTH_SOCK: agentSock },
      stdio: 'pipe',
    });
    await waitFor(
      `sshd on 127.0.0.1:${port}`,
      () => banner(port),
      sshd,
      () => sshdLog,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    port,
    host: `ssh://root@127.0.0.1:${port}`,
    env: { SSH_AUTH_SOCK: agentSock, DISTILL_SSH_COMMAND: `ssh -F ${join(dir, 'ssh_config')}` },
    untrustingConfig: join(dir, 'untrusting_ssh_config'),
    stop,
  };
}

/** True once something on the port greets with an SSH banner. */
function banner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setTimeout(2000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('data', (d: Buffer) => {
      s.destroy();
      resolve(d.toString('latin1').startsWith('SSH-'));
    });
    s.once('error', () => resolve(false));
  });
}
