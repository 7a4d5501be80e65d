import { parseDockerReference } from '../ref/docker.js';
import { parseImageRef } from '../ref/transport.js';
import { usage } from './context.js';

/**
 * The outputs a command line names: `-o REF` as given, and buildx's habits `-t NAME[:TAG]` with
 * `--load` (the Docker engine) and `--push` (the registry in NAME), turned into references.
 */

/** What buildx's `--output type=...` is written as in distill. */
function fromBuildx(value: string): string {
  const fields = new Map(
    value.split(',').map((kv) => {
      const i = kv.indexOf('=');
      return [i < 0 ? kv : kv.slice(0, i), i < 0 ? '' : kv.slice(i + 1)] as const;
    }),
  );
  const name = fields.get('name') ?? 'NAME[:TAG]';
  const dest = fields.get('dest') ?? 'FILE';
  switch (fields.get('type')) {
    case 'registry':
      return `-o docker://${name}`;
    case 'image':
      return fields.get('push') === 'true' ? `-o docker://${name}` : `-o docker-daemon:${name}`;
    case 'docker':
      return fields.has('dest') ? `-o docker-archive:${dest}` : `-o docker-daemon:${name}`;
    case 'oci':
      return fields.get('tar') === 'false' ? `-o oci:${dest}` : `-o oci-archive:${dest}`;
    default:
      return '-o oci:DIR, oci-archive:FILE, docker-archive:FILE, docker-daemon:NAME or docker://REF';
  }
}

/** Each `-o` value is an image reference; buildx's `type=...` syntax is told how to write it. */
export function checkOutputs(outputs: readonly string[]): void {
  for (const o of outputs) {
    if (/^type=/.test(o)) {
      throw usage(`-o takes an image reference, not buildx's "${o}"; write ${fromBuildx(o)}`);
    }
    parseImageRef(o);
  }
}

/** Whether a name says which registry it is in (`ghcr.io/a/b`, `localhost:5000/b`), as Docker decides. */
export function namesRegistry(name: string): boolean {
  const slash = name.indexOf('/');
  if (slash < 0) return false;
  const first = name.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost';
}

/**
 * The references `-t`, `--load` and `--push` add: each tag into Docker with --load and to its
 * registry with --push. `--load` without a tag is left to the command (it names the image).
 */
export function tagOutputs(tags: readonly string[], load: boolean, push: boolean): string[] {
  for (const t of tags) parseDockerReference(t);
  if (push) {
    if (tags.length === 0) {
      throw usage(
        '--push pushes to the registry each -t names: add -t REGISTRY/REPO[:TAG], e.g. -t ghcr.io/acme/app:1',
      );
    }
    const local = tags.find((t) => !namesRegistry(t));
    if (local !== undefined) {
      throw usage(
        `--push needs a registry in -t ${local}: write -t REGISTRY/${local} (e.g. -t localhost:5000/${local}), or -t docker.io/${local.includes('/') ? local : `library/${local}`} for Docker Hub`,
      );
    }
  }
  return [
    ...(load ? tags.map((t) => `docker-daemon:${t}`) : []),
    ...(push ? tags.map((t) => `docker://${t}`) : []),
  ];
}
