import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * Real components for tests (DESIGN.md): a test that lacks one skips with the reason printed,
 * except under CI=true, where the missing component fails the test.
 */
export const IN_CI = process.env.CI === 'true' || process.env.CI === '1';

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** The Debian docker client (the newer one in /usr/local/bin insists on buildx). */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : (which('docker') ?? 'docker');

let dockerOk: boolean | undefined;
export function dockerAvailable(): boolean {
  if (dockerOk === undefined) {
    try {
      execFileSync(DOCKER, ['info'], { stdio: 'ignore', timeout: 20_000 });
      dockerOk = true;
    } catch {
      dockerOk = false;
    }
  }
  return dockerOk;
}

/**
 * Returns true when every named component is there. Otherwise skips the test with the reason,
 * or under CI throws so the test fails.
 */
export function requireComponents(t: TestContext, ...names: string[]): boolean {
  const missing: string[] = [];
  for (const name of names) {
    if (name === 'docker') {
      if (!dockerAvailable()) missing.push('a running Docker engine (docker info fails)');
    } else if (!which(name)) {
      missing.push(`${name} (not on PATH)`);
    }
  }
  if (missing.length === 0) return true;
  const reason = `needs ${missing.join(', ')}; .ci/run installs and starts them`;
  if (IN_CI) throw new Error(`CI=true and this test ${reason}`);
  t.skip(reason);
  return false;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export interface RunningRegistry {
  /** host:port, e.g. 127.0.0.1:40123 */
  host: string;
  dir: string;
  stop(): Promise<void>;
}

/**
 * Starts Debian's docker-registry on 127.0.0.1 (or `listen`) with filesystem storage in a temp
 * dir; with `htpasswd` (the file's contents), basic auth is switched on.
 */
export async function startRegistry(
  opts: { htpasswd?: string; listen?: string } = {},
): Promise<RunningRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'distill-registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  // `listen: '0.0.0.0'` makes it reachable on the machine's other addresses too (host stays loopback).
  const addr = `${opts.listen ?? '127.0.0.1'}:${port}`;
  let auth = '';
  if (opts.htpasswd !== undefined) {
    await writeFile(join(dir, 'htpasswd'), opts.htpasswd);
    auth = `auth:\n  htpasswd:\n    realm: distill-test\n    path: ${join(dir, 'htpasswd')}\n`;
  }
  const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: true
http:
  addr: ${addr}
${auth}`;
  await writeFile(join(dir, 'config.yml'), config);
  const proc: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      await res.arrayBuffer();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not up yet
    }
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill();
      throw new Error(`docker-registry did not start on ${host}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    dir,
    async stop() {
      proc.kill();
      await new Promise((r) => (proc.exitCode !== null ? r(undefined) : proc.once('exit', r)));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** htpasswd line (bcrypt, as docker-registry requires) made with Debian's htpasswd tool. */
export function htpasswdLine(user: string, password: string): string {
  return execFileSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' }).trim();
}

export async function tempDir(prefix = 'distill-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
