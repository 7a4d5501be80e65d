import type { ChildProcess } from 'node:child_process';
import { Duplex } from 'node:stream';
import { DistillError } from '../../errors.js';
import { childProcess } from '../../host.js';
import type { SshEndpoint } from './host.js';

/**
 * ssh://[USER@]HOST[:PORT][/SOCKET] the docker CLI's way (docker/cli cli/connhelper): one `ssh`
 * process per connection, running `docker system dial-stdio` on the remote host, whose stdin and
 * stdout carry the HTTP of the Engine API. No ssh library: the user's own ssh, with their config,
 * agent and known_hosts, is what the docker CLI uses and what they expect.
 *
 * DISTILL_SSH_COMMAND replaces `ssh` the way GIT_SSH_COMMAND does for git (run by /bin/sh, the
 * arguments appended), e.g. `ssh -F ./ssh_config`: the docker CLI has no such setting (its ssh
 * flags are fixed in code), so this is distill's own.
 */

/** The arguments after `ssh`, as the docker CLI builds them. */
export function sshArgs(ep: SshEndpoint): string[] {
  const args: string[] = [];
  if (ep.user !== undefined) args.push('-l', ep.user);
  if (ep.port !== undefined) args.push('-p', String(ep.port));
  args.push('-o', 'ConnectTimeout=30', '-T', '--', ep.host);
  const remote =
    ep.socketPath !== undefined
      ? ['docker', `--host=unix://${ep.socketPath}`, 'system', 'dial-stdio']
      : ['docker', 'system', 'dial-stdio'];
  // ssh hands the remote command to the remote user's shell as one string.
  args.push(remote.map(shellQuote).join(' '));
  return args;
}

/** POSIX shell quoting: bare when only safe characters, else in single quotes. */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The command line that runs ssh: DISTILL_SSH_COMMAND through the shell, else `ssh`. */
function sshCommand(
  ep: SshEndpoint,
  env: NodeJS.ProcessEnv,
): { file: string; args: string[]; shown: string } {
  const args = sshArgs(ep);
  const custom = env.DISTILL_SSH_COMMAND;
  if (custom !== undefined && custom.trim() !== '') {
    return { file: '/bin/sh', args: ['-c', `${custom} "$@"`, custom, ...args], shown: custom };
  }
  return { file: 'ssh', args, shown: 'ssh' };
}

/**
 * A connection to the engine through ssh: a Duplex over the child's stdin and stdout. When ssh
 * fails (cannot connect, host key or login refused, no docker on the remote side), the stream
 * errors with its exit status and its stderr, not with the bare end of the HTTP response.
 */
export class SshConnection extends Duplex {
  private readonly child: ChildProcess;
  /** `ssh`, or DISTILL_SSH_COMMAND: for messages. */
  private readonly command: string;
  private stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    private readonly endpoint: SshEndpoint,
    env: NodeJS.ProcessEnv,
  ) {
    super();
    const cmd = sshCommand(endpoint, env);
    this.command = cmd.shown;
    // Its own session, as the docker CLI does: ssh cannot prompt on the user's terminal (it
    // would hang a non-interactive run) and ^C on distill does not reach it first.
    this.child = childProcess().spawn(cmd.file, cmd.args, {
      env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', (code, signal) => resolve({ code, signal }));
    });
    this.child.once('error', (err: NodeJS.ErrnoException) => {
      const why =
        err.code === 'ENOENT'
          ? `${cmd.shown} is not installed (or not on PATH); install an ssh client (Debian: openssh-client)`
          : err.message;
      this.destroy(this.failure(why, err));
    });
    this.child.stderr?.on('data', (c: Buffer) => {
      if (this.stderr.length < 4096) this.stderr += c.toString('utf8');
    });
    this.child.stdout?.on('data', (c: Buffer) => {
      if (!this.push(c)) this.child.stdout?.pause();
    });
    this.child.stdout?.once('end', () => {
      // The HTTP client must see why the stream ended: wait for the exit status first.
      void this.exited.then(({ code, signal }) => {
        if (code === 0 || this.destroyed) this.push(null);
        else this.destroy(this.failure(code !== null ? `exit status ${code}` : `killed by ${signal}`));
      });
    });
    // A write into a dead ssh: its exit (above) says why.
    this.child.stdin?.on('error', () => {});
  }

  private failure(why: string, cause?: unknown): DistillError {
    const said = this.stderr.trim();
    return new DistillError(
      'DAEMON_UNAVAILABLE',
      `cannot reach the Docker engine at ${this.endpoint.url} (${this.endpoint.origin}) through ssh: ${why}${said !== '' ? `; ssh said: ${said}` : ''}. Check that \`${this.command} ${sshArgs(this.endpoint).slice(0, -1).join(' ')} docker version\` works`,
      { cause },
    );
  }

  override _read(): void {
    this.child.stdout?.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed) {
      cb();
      return;
    }
    if (stdin.write(chunk)) cb();
    else stdin.once('drain', () => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.child.stdin?.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.child.stdin?.destroy();
    this.child.stdout?.destroy();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM');
    cb(err);
  }

  // What node:http asks of a socket beyond a Duplex; there is no TCP socket under ssh's pipes.
  setNoDelay(): this {
    return this;
  }
  setKeepAlive(): this {
    return this;
  }
  setTimeout(): this {
    return this;
  }
  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}
