import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { publish } from '../../src/media/publish.js';
import { memoryImage } from '../helpers/images.js';

/**
 * A reference without a registry host names Docker Hub. When Docker Hub cannot be reached, the
 * error says how to load the image into the local engine instead; a reference that names a
 * registry (Docker Hub by name included) gets the network error as it is.
 */
const unreachable: typeof fetch = async () => {
  throw Object.assign(new TypeError('fetch failed'), {
    cause: Object.assign(new Error('getaddrinfo ENOTFOUND registry-1.docker.io'), { code: 'ENOTFOUND' }),
  });
};

async function failure(ref: string): Promise<Error> {
  const image = await memoryImage({ layers: 1 });
  const err = await publish(image, [ref], { registry: { fetchImpl: unreachable, retries: 0 } }).then(
    () => assert.fail(`${ref} was written`),
    (e: unknown) => e as Error,
  );
  assert.ok(isDistillError(err, 'NETWORK'), String(err));
  return err;
}

test('Docker Hub by default, unreachable: the error names docker-daemon:NAME', async () => {
  for (const [ref, name] of [
    ['docker://nest:trial', 'nest:trial'],
    ['acme/app:1', 'acme/app:1'],
  ] as const) {
    const err = await failure(ref);
    assert.match(err.message, /the connection to registry docker\.io broke/);
    assert.ok(
      err.message.endsWith(
        `${ref} names an image on Docker Hub (no registry host in it); to load the image into the local Docker engine, write docker-daemon:${name}`,
      ),
      err.message,
    );
  }
});

test('a registry named in the reference: the network error alone', async () => {
  for (const ref of ['docker://docker.io/acme/app:1', 'docker://registry.example.invalid/app:1']) {
    const err = await failure(ref);
    assert.doesNotMatch(err.message, /docker-daemon:/, ref);
  }
});
