import { DistillError } from '../errors.js';
import { type Digest, isDigest } from '../oci/digest.js';
import { type DockerReference, familiarName, formatDockerReference, parseDockerReference } from './docker.js';

/**
 * Image references with a transport prefix, following containers/image (skopeo):
 * `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF]`,
 * `docker-daemon:NAME[:TAG]` (or an image ID `docker-daemon:sha256:...`),
 * `docker://REGISTRY/REPO[:TAG|@DIGEST]`; a bare reference means a registry.
 */
export type ImageRef =
  | { transport: 'oci'; path: string; tag?: string }
  | { transport: 'oci-archive'; path: string; tag?: string }
  | { transport: 'docker-archive'; path: string; ref?: DockerReference }
  | { transport: 'docker-daemon'; ref?: DockerReference; id?: Digest }
  | { transport: 'docker'; ref: DockerReference };

export const TRANSPORTS: readonly string[] = [
  'oci',
  'oci-archive',
  'docker-archive',
  'docker-daemon',
  'docker',
];

const OCI_TAG = /^[A-Za-z0-9._\-:@/+]+$/;

function splitPathAndName(body: string): [string, string | undefined] {
  const i = body.indexOf(':');
  return i < 0 ? [body, undefined] : [body.slice(0, i), body.slice(i + 1)];
}

export function parseImageRef(input: string): ImageRef {
  if (input.startsWith('docker://')) {
    return { transport: 'docker', ref: parseDockerReference(input.slice('docker://'.length)) };
  }
  const m = /^([a-z][a-z-]*):(?!\/\/)/.exec(input);
  const prefix = m?.[1];
  if (prefix !== undefined && ['oci', 'oci-archive', 'docker-archive', 'docker-daemon'].includes(prefix)) {
    const body = input.slice(prefix.length + 1);
    if (prefix === 'docker-daemon') {
      if (body === '')
        throw refError(input, 'docker-daemon: needs an image name, e.g. docker-daemon:myapp:1.0');
      if (isDigest(body)) return { transport: 'docker-daemon', id: body };
      return { transport: 'docker-daemon', ref: parseDockerReference(body) };
    }
    const [path, name] = splitPathAndName(body);
    if (path === '')
      throw refError(
        input,
        `${prefix}: needs a path, e.g. ${prefix}:./image${prefix === 'oci' ? '' : '.tar'}`,
      );
    if (prefix === 'docker-archive') {
      return name === undefined || name === ''
        ? { transport: 'docker-archive', path }
        : { transport: 'docker-archive', path, ref: parseDockerReference(name) };
    }
    if (name === undefined || name === '') return { transport: prefix as 'oci' | 'oci-archive', path };
    if (!OCI_TAG.test(name)) {
      throw refError(input, `"${name}" is not a valid OCI layout tag (letters, digits and ._-:@/+ only)`);
    }
    return { transport: prefix as 'oci' | 'oci-archive', path, tag: name };
  }
  if (
    prefix !== undefined &&
    !/^[a-z0-9.-]+:\d+\//.test(input) &&
    !input.slice(prefix.length + 1).match(/^[\w][\w.-]*$/)
  ) {
    // `foo:bar/baz` where foo is no host with a port: most likely a misspelled transport.
    throw new DistillError(
      'TRANSPORT_UNKNOWN',
      `"${prefix}:" is not a transport distill knows; use one of ${TRANSPORTS.map((t) => (t === 'docker' ? 'docker://' : `${t}:`)).join(', ')} or a registry reference like ghcr.io/acme/app:1.0`,
    );
  }
  return { transport: 'docker', ref: parseDockerReference(input) };
}

function refError(input: string, why: string): DistillError {
  return new DistillError('REF_INVALID', `"${input}" is not a valid image reference: ${why}`);
}

export function formatImageRef(r: ImageRef): string {
  switch (r.transport) {
    case 'oci':
    case 'oci-archive':
      return `${r.transport}:${r.path}${r.tag !== undefined ? `:${r.tag}` : ''}`;
    case 'docker-archive':
      return `docker-archive:${r.path}${r.ref ? `:${familiarName(r.ref)}` : ''}`;
    case 'docker-daemon':
      return `docker-daemon:${r.id ?? (r.ref ? familiarName(r.ref) : '')}`;
    case 'docker':
      return `docker://${formatDockerReference(r.ref)}`;
  }
}
