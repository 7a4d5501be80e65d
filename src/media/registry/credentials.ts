import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import { childProcess, hostEnv } from '../../host.js';
import { DOCKER_HUB } from '../../ref/docker.js';

export interface Credentials {
  username: string;
  password: string;
}

/** Docker Hub's key in config.json and for credential helpers, kept for historical reasons. */
export const DOCKER_HUB_CONFIG_KEY = 'https://index.docker.io/v1/';

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string } | undefined>;
  credHelpers?: Record<string, string | undefined>;
  credsStore?: string;
}

/** `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = hostEnv()): string {
  const dir = env.DOCKER_CONFIG;
  return dir ? join(dir, 'config.json') : join(homedir(), '.docker', 'config.json');
}

/** Reduces a config.json key (`host`, `https://host`, `http://host/v1/`) to `host`. */
export function normalizeConfigKey(key: string): string {
  let k = key.trim().toLowerCase();
  k = k.replace(/^[a-z]+:\/\//, '');
  const slash = k.indexOf('/');
  if (slash >= 0) k = k.slice(0, slash);
  if (k === 'index.docker.io' || k === 'registry-1.docker.io') k = DOCKER_HUB;
  return k;
}

function findEntry<T>(map: Record<string, T | undefined> | undefined, registry: string): T | undefined {
  if (!map) return undefined;
  const want = normalizeConfigKey(registry);
  // An exact key wins over one that only matches after normalization.
  const exact = map[registry];
  if (exact !== undefined) return exact;
  for (const [key, value] of Object.entries(map)) {
    if (value !== undefined && normalizeConfigKey(key) === want) return value;
  }
  return undefined;
}

async function readDockerConfig(path: string): Promise<DockerConfigFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DistillError('IO', `cannot read Docker config ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as DockerConfigFile) : {};
  } catch (err) {
    throw new DistillError('USAGE', `Docker config ${path} is not valid JSON; fix or remove it`, {
      cause: err,
    });
  }
}

/**
 * Credentials for a registry: `--creds` first, then the Docker config file (a credential helper
 * named for the host in `credHelpers`, an `auths` entry, the `credsStore` helper), the order
 * the Docker CLI uses. Returns undefined when nothing is configured (anonymous access).
 */
export async function resolveCredentials(
  registry: string,
  opts: { creds?: Credentials | undefined; dockerConfigPath?: string | undefined },
): Promise<Credentials | undefined> {
  if (opts.creds) return opts.creds;
  const path = opts.dockerConfigPath ?? defaultDockerConfigPath();
  const config = await readDockerConfig(path);
  if (!config) return undefined;
  const serverUrl = registry === DOCKER_HUB ? DOCKER_HUB_CONFIG_KEY : registry;
  const helper = findEntry(config.credHelpers, registry);
  if (helper) return runCredentialHelper(helper, serverUrl);
  const entry = findEntry(config.auths, registry);
  if (entry?.auth) return decodeAuth(entry.auth, registry, path);
  if (entry?.username !== undefined && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  if (config.credsStore) return runCredentialHelper(config.credsStore, serverUrl);
  return undefined;
}

function decodeAuth(auth: string, registry: string, path: string): Credentials {
  const text = Buffer.from(auth, 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon <= 0) {
    throw new DistillError(
      'USAGE',
      `the "auth" entry for ${registry} in ${path} is not base64 of user:password; run docker login ${registry} again`,
    );
  }
  return { username: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * Runs `docker-credential-<helper> get` with the server URL on stdin, as the Docker credential
 * helper protocol defines. "credentials not found" means anonymous access, not an error.
 */
export async function runCredentialHelper(
  helper: string,
  serverUrl: string,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${helper}`;
  const fail = (why: string, cause?: unknown): DistillError =>
    new DistillError(
      'CREDENTIAL_HELPER',
      `credential helper ${program} failed for ${serverUrl}: ${why}; check your Docker config or pass --creds`,
      { cause },
    );
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = childProcess().spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
      // Not spawn's own `timeout`: its timer outlives a helper that failed to start (ENOENT).
      const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
      timer.unref();
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        out += d;
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => {
        err += d;
      });
      child.on('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(fail(e.code === 'ENOENT' ? `${program} is not on PATH` : e.message, e));
      });
      child.on('close', (c, signal) => {
        clearTimeout(timer);
        resolve({ code: c ?? (signal ? 128 : 1), stdout: out, stderr: err });
      });
      child.stdin.on('error', () => {
        // the helper may exit without reading stdin; its exit status tells what happened
      });
      child.stdin.end(serverUrl);
    },
  );
  if (code !== 0) {
    const said = `${stdout} ${stderr}`.trim();
    if (/credentials not found/i.test(said)) return undefined;
    throw fail(`it exited with status ${code}${said ? ` (${said.slice(0, 200)})` : ''}`);
  }
  let v: { Username?: unknown; Secret?: unknown };
  try {
    v = JSON.parse(stdout) as { Username?: unknown; Secret?: unknown };
  } catch (err) {
    throw fail('its output is not JSON', err);
  }
  if (typeof v.Username !== 'string' || typeof v.Secret !== 'string') {
    throw fail('its output lacks "Username" and "Secret"');
  }
  return { username: v.Username, password: v.Secret };
}
