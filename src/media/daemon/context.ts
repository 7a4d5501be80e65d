import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import { digestHex, digestOf } from '../../oci/digest.js';
import { DEFAULT_SOCKET, type DockerEndpoint, parseDockerHost, readPem } from './host.js';

/**
 * docker contexts as the docker CLI stores them (docker/cli cli/context/store): the config's
 * `currentContext` names one; its metadata is contexts/meta/<sha256 hex of the name>/meta.json,
 * `{"Name": ..., "Endpoints": {"docker": {"Host": ..., "SkipTLSVerify": ...}}}`, and the TLS
 * files of its docker endpoint are contexts/tls/<sha256 hex of the name>/docker/{ca,cert,key}.pem.
 * Go's JSON decoder matches field names regardless of case, so this reader does too.
 */

type JsonObject = Record<string, unknown>;

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** obj[key], else the field whose name equals key ignoring case (encoding/json's rule). */
function field(obj: JsonObject, key: string): unknown {
  if (Object.hasOwn(obj, key)) return obj[key];
  const lower = key.toLowerCase();
  const k = Object.keys(obj).find((name) => name.toLowerCase() === lower);
  return k === undefined ? undefined : obj[k];
}

async function readJsonObject(file: string, what: string): Promise<JsonObject | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new DistillError('DAEMON_HOST_INVALID', `cannot read ${what} ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new DistillError(
      'DAEMON_HOST_INVALID',
      `${what} ${file} is not valid JSON (${(err as Error).message}); fix or remove it`,
      { cause: err },
    );
  }
  if (!isObject(v)) throw new DistillError('DAEMON_HOST_INVALID', `${what} ${file} must hold a JSON object`);
  return v;
}

/** The docker config's `currentContext`, when it names one. */
export async function currentContext(configDir: string): Promise<{ name: string; from: string } | undefined> {
  const file = join(configDir, 'config.json');
  const config = await readJsonObject(file, 'the docker config');
  const name = config === undefined ? undefined : field(config, 'currentContext');
  if (name === undefined || name === null || name === '') return undefined;
  if (typeof name !== 'string') {
    throw new DistillError(
      'DAEMON_HOST_INVALID',
      `currentContext in ${file} must be a context name (a string)`,
    );
  }
  return { name, from: `currentContext in ${file}` };
}

/** The docker endpoint of a named context, with its TLS files when it has any. */
export async function contextEndpoint(
  configDir: string,
  name: string,
  origin: string,
): Promise<DockerEndpoint> {
  const id = digestHex(digestOf(name));
  const metaFile = join(configDir, 'contexts', 'meta', id, 'meta.json');
  const meta = await readJsonObject(metaFile, `the metadata of ${origin}`);
  if (meta === undefined) {
    throw new DistillError(
      'DAEMON_HOST_INVALID',
      `${origin} does not exist: there is no ${metaFile}; list the contexts with docker context ls, or choose another with DOCKER_CONTEXT or DOCKER_HOST`,
    );
  }
  const endpoints = field(meta, 'Endpoints');
  const docker = isObject(endpoints) ? field(endpoints, 'docker') : undefined;
  if (!isObject(docker)) {
    throw new DistillError(
      'DAEMON_HOST_INVALID',
      `${origin} has no docker endpoint (Endpoints.docker in ${metaFile})`,
    );
  }
  const host = field(docker, 'Host');
  const skip = field(docker, 'SkipTLSVerify');
  if ((host !== undefined && typeof host !== 'string') || (skip !== undefined && typeof skip !== 'boolean')) {
    throw new DistillError(
      'DAEMON_HOST_INVALID',
      `Endpoints.docker in ${metaFile} (${origin}) must have a string Host and a boolean SkipTLSVerify`,
    );
  }
  // A context without a Host talks to the client's default, the local socket.
  const parsed = parseDockerHost(
    host === undefined || host === '' ? `unix://${DEFAULT_SOCKET}` : host,
    `the Host of ${origin} in ${metaFile}`,
  );
  const endpoint = { ...parsed, origin };
  if (endpoint.kind !== 'tcp') return endpoint;
  const dir = join(configDir, 'contexts', 'tls', id, 'docker');
  const [ca, cert, key] = await Promise.all(
    ['ca.pem', 'cert.pem', 'key.pem'].map((f) => readPem(join(dir, f))),
  );
  if (ca === undefined && cert === undefined && key === undefined && skip !== true) return endpoint;
  if ((cert === undefined) !== (key === undefined)) {
    throw new DistillError(
      'DAEMON_TLS',
      `${origin}: ${dir} holds ${cert ? 'cert.pem but no key.pem' : 'key.pem but no cert.pem'}; a client certificate needs both`,
    );
  }
  return {
    ...endpoint,
    tls: { verify: skip !== true, ...(ca && { ca }), ...(cert && key && { cert, key }), dir },
  };
}
