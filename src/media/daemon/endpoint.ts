import { homedir } from 'node:os';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import { hostEnv } from '../../host.js';
import { contextEndpoint, currentContext } from './context.js';
import { DEFAULT_SOCKET, type DockerEndpoint, parseDockerHost, readPem, type TlsMaterial } from './host.js';

/** The context that stands for DOCKER_HOST and the environment's TLS settings. */
const DEFAULT_CONTEXT = 'default';
/** Where the docker CLI goes when TLS is asked for and DOCKER_HOST is not set. */
const DEFAULT_TLS_HOST = 'tcp://localhost:2376';

export type { DockerEndpoint, SshEndpoint, TcpEndpoint, TlsMaterial, UnixEndpoint } from './host.js';
export { parseDockerHost } from './host.js';

/**
 * Where the Docker engine is, found the way the docker CLI finds it (docker/cli
 * cli/command/cli.go resolveContextName, resolveDefaultDockerEndpoint; opts/hosts.go ParseHost):
 *
 *   1. DOCKER_HOST, with TLS from DOCKER_TLS_VERIFY / DOCKER_TLS and DOCKER_CERT_PATH;
 *   2. else the context DOCKER_CONTEXT names;
 *   3. else the `currentContext` of the docker config (DOCKER_CONFIG, default ~/.docker), whose
 *      endpoint is in contexts/meta/<sha256 of the name>/meta.json and its TLS files in
 *      contexts/tls/<sha256 of the name>/docker/{ca,cert,key}.pem;
 *   4. else (or for the context named "default") the default: unix:///var/run/docker.sock, or
 *      tcp://localhost:2376 when TLS is asked for.
 */

/** The docker CLI's config directory: DOCKER_CONFIG, else ~/.docker ($HOME first, as Go does). */
export function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  const dir = env.DOCKER_CONFIG;
  if (dir !== undefined && dir !== '') return dir;
  const home = env.HOME !== undefined && env.HOME !== '' ? env.HOME : homedir();
  return join(home, '.docker');
}

/** Resolves the endpoint the docker CLI would use in this environment (see the top of the file). */
export async function resolveDockerEndpoint(env: NodeJS.ProcessEnv = hostEnv()): Promise<DockerEndpoint> {
  const configDir = dockerConfigDir(env);
  if (nonEmpty(env.DOCKER_HOST)) return defaultEndpoint(env, configDir);
  const chosen = nonEmpty(env.DOCKER_CONTEXT)
    ? { name: env.DOCKER_CONTEXT, from: 'DOCKER_CONTEXT' }
    : await currentContext(configDir);
  if (chosen === undefined || chosen.name === DEFAULT_CONTEXT) return defaultEndpoint(env, configDir);
  return contextEndpoint(configDir, chosen.name, `docker context "${chosen.name}" (${chosen.from})`);
}

function nonEmpty(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

/** The "default" context: DOCKER_HOST (or the default socket) with TLS from the environment. */
async function defaultEndpoint(env: NodeJS.ProcessEnv, configDir: string): Promise<DockerEndpoint> {
  const verify = nonEmpty(env.DOCKER_TLS_VERIFY);
  const tls = verify || nonEmpty(env.DOCKER_TLS);
  const host = env.DOCKER_HOST;
  const endpoint = nonEmpty(host)
    ? parseDockerHost(host, 'DOCKER_HOST')
    : parseDockerHost(tls ? DEFAULT_TLS_HOST : `unix://${DEFAULT_SOCKET}`, 'the default host');
  if (endpoint.kind !== 'tcp' || !tls) return endpoint;
  const dir = nonEmpty(env.DOCKER_CERT_PATH) ? env.DOCKER_CERT_PATH : configDir;
  const why = `${verify ? 'DOCKER_TLS_VERIFY' : 'DOCKER_TLS'} is set`;
  return { ...endpoint, tls: await tlsFromDirectory(dir, verify, why, !nonEmpty(env.DOCKER_CERT_PATH)) };
}

/**
 * ca.pem, cert.pem and key.pem of DOCKER_CERT_PATH: ca.pem must be there (the docker CLI fails
 * without it too); a client certificate needs both cert.pem and key.pem.
 */
export async function tlsFromDirectory(
  dir: string,
  verify: boolean,
  why: string,
  defaulted: boolean,
): Promise<TlsMaterial> {
  const where = defaulted ? `${dir} (DOCKER_CERT_PATH is not set, so the docker config directory)` : dir;
  const ca = await readPem(join(dir, 'ca.pem'));
  if (ca === undefined) {
    throw new DistillError(
      'DAEMON_TLS',
      `${why} but ${join(dir, 'ca.pem')} does not exist: put the CA that signed the engine's certificate there, or point DOCKER_CERT_PATH at the directory holding ca.pem, cert.pem and key.pem (${where})`,
    );
  }
  const cert = await readPem(join(dir, 'cert.pem'));
  const key = await readPem(join(dir, 'key.pem'));
  if ((cert === undefined) !== (key === undefined)) {
    const [has, lacks] = cert !== undefined ? ['cert.pem', 'key.pem'] : ['key.pem', 'cert.pem'];
    throw new DistillError(
      'DAEMON_TLS',
      `${join(dir, has)} exists but ${join(dir, lacks)} does not: a client certificate needs both (${where})`,
    );
  }
  return { verify, ca, ...(cert && key && { cert, key }), dir };
}
