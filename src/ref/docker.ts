import { DistillError } from '../errors.js';
import { type Digest, parseDigest } from '../oci/digest.js';

/**
 * A Docker-style image reference (`ghcr.io/acme/api:1.2`, `busybox`, `localhost:5000/x@sha256:...`),
 * normalized the way the Docker CLI and containers/image do: no registry means docker.io, a
 * one-component docker.io name is under `library/`.
 */
export interface DockerReference {
  /** Registry host[:port], e.g. `docker.io`, `127.0.0.1:5000`. */
  registry: string;
  /** Repository path, e.g. `library/busybox`. */
  repository: string;
  tag?: string;
  digest?: Digest;
}

export const DOCKER_HUB = 'docker.io';
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const HOST =
  /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[a-fA-F0-9:]+\])(?::\d{1,5})?$/;

function invalid(s: string, why: string): never {
  throw new DistillError('REF_INVALID', `"${s}" is not a valid image reference: ${why}`);
}

export function parseDockerReference(s: string, opts: { defaultTag?: string | false } = {}): DockerReference {
  if (s === '') invalid(s, 'it is empty');
  if (s.length > 4096) invalid(s.slice(0, 40), 'it is too long');
  let rest = s;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    try {
      digest = parseDigest(rest.slice(at + 1)).digest;
    } catch (err) {
      invalid(s, (err as Error).message);
    }
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > lastSlash) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG.test(tag))
      invalid(s, `tag "${tag}" may hold only letters, digits, "_", "." and "-" (at most 128)`);
  }
  let registry = DOCKER_HUB;
  const parts = rest.split('/');
  const first = parts[0]!;
  if (
    parts.length > 1 &&
    (first.includes('.') || first.includes(':') || first === 'localhost' || /[A-Z]/.test(first))
  ) {
    if (!HOST.test(first)) invalid(s, `"${first}" is not a valid registry host`);
    registry = first === 'index.docker.io' || first === 'registry-1.docker.io' ? DOCKER_HUB : first;
    parts.shift();
  }
  if (parts.length === 0 || parts.some((p) => p === '')) invalid(s, 'the repository name is empty');
  for (const p of parts) {
    if (!COMPONENT.test(p)) {
      invalid(s, `"${p}" must be lower-case letters and digits, separated by ".", "_", "__" or "-"`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) invalid(s, 'the repository name is longer than 255 characters');
  const ref: DockerReference = { registry, repository };
  if (tag !== undefined) ref.tag = tag;
  else if (digest === undefined && opts.defaultTag !== false) ref.tag = opts.defaultTag ?? 'latest';
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** `registry/repository[:tag][@digest]`, fully qualified. */
export function formatDockerReference(r: DockerReference): string {
  return `${r.registry}/${r.repository}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}

/** The short name the Docker CLI shows (`busybox:latest`, `ghcr.io/a/b:1`). */
export function familiarName(r: DockerReference): string {
  let name = `${r.registry}/${r.repository}`;
  if (r.registry === DOCKER_HUB) {
    name = r.repository.startsWith('library/') ? r.repository.slice('library/'.length) : r.repository;
  }
  return `${name}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest ? `@${r.digest}` : ''}`;
}
