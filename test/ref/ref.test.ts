import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isDistillError } from '../../src/errors.js';
import { familiarName, formatDockerReference, parseDockerReference } from '../../src/ref/docker.js';
import { formatImageRef, parseImageRef } from '../../src/ref/transport.js';

const HEX64 = 'a'.repeat(64);

test('docker references normalize like the Docker CLI', () => {
  assert.deepEqual(parseDockerReference('busybox'), {
    registry: 'docker.io',
    repository: 'library/busybox',
    tag: 'latest',
  });
  assert.deepEqual(parseDockerReference('ghcr.io/acme/api:1.2'), {
    registry: 'ghcr.io',
    repository: 'acme/api',
    tag: '1.2',
  });
  assert.deepEqual(parseDockerReference(`localhost:5000/x/y@sha256:${HEX64}`), {
    registry: 'localhost:5000',
    repository: 'x/y',
    digest: `sha256:${HEX64}`,
  });
  assert.deepEqual(parseDockerReference(`127.0.0.1:5000/a:t@sha256:${HEX64}`), {
    registry: '127.0.0.1:5000',
    repository: 'a',
    tag: 't',
    digest: `sha256:${HEX64}`,
  });
  assert.equal(parseDockerReference('acme/api').repository, 'acme/api');
  assert.equal(parseDockerReference('index.docker.io/library/node:24').registry, 'docker.io');
  assert.equal(familiarName(parseDockerReference('docker.io/library/node:24')), 'node:24');
  assert.equal(familiarName(parseDockerReference('ghcr.io/a/b:1')), 'ghcr.io/a/b:1');
});

test('invalid docker references are REF_INVALID with the reason', () => {
  for (const bad of [
    '',
    'Case',
    'acme/Case',
    'a//b',
    'a:',
    'a:-bad',
    'a@sha256:xyz',
    'a:b:c/d',
    `x:${'t'.repeat(200)}`,
  ]) {
    assert.throws(
      () => parseDockerReference(bad),
      (e) => isDistillError(e, 'REF_INVALID') || isDistillError(e, 'DIGEST_INVALID'),
      bad,
    );
  }
});

test('transports parse like containers/image', () => {
  assert.deepEqual(parseImageRef('oci:./out:v1'), { transport: 'oci', path: './out', tag: 'v1' });
  assert.deepEqual(parseImageRef('oci:/tmp/x'), { transport: 'oci', path: '/tmp/x' });
  assert.deepEqual(parseImageRef('oci-archive:img.tar'), { transport: 'oci-archive', path: 'img.tar' });
  assert.deepEqual(parseImageRef('docker-archive:img.tar:app:1'), {
    transport: 'docker-archive',
    path: 'img.tar',
    ref: { registry: 'docker.io', repository: 'library/app', tag: '1' },
  });
  assert.deepEqual(parseImageRef('docker-daemon:app:1'), {
    transport: 'docker-daemon',
    ref: { registry: 'docker.io', repository: 'library/app', tag: '1' },
  });
  assert.deepEqual(parseImageRef(`docker-daemon:sha256:${HEX64}`), {
    transport: 'docker-daemon',
    id: `sha256:${HEX64}`,
  });
  assert.equal(parseImageRef('docker://ghcr.io/a/b:1').transport, 'docker');
  assert.equal(parseImageRef('ghcr.io/a/b:1').transport, 'docker');
  assert.equal(parseImageRef('localhost:5000/a').transport, 'docker');
  assert.equal(parseImageRef('busybox:latest').transport, 'docker');
});

test('an unknown transport or an empty path is a clear error', () => {
  assert.throws(
    () => parseImageRef('dir:/tmp/x'),
    (e) => isDistillError(e, 'TRANSPORT_UNKNOWN') && /dir:/.test((e as Error).message),
  );
  assert.throws(
    () => parseImageRef('oci:'),
    (e) => isDistillError(e, 'REF_INVALID'),
  );
  assert.throws(
    () => parseImageRef('docker-daemon:'),
    (e) => isDistillError(e, 'REF_INVALID'),
  );
  assert.throws(
    () => parseImageRef('docker://'),
    (e) => isDistillError(e, 'REF_INVALID'),
  );
});

const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+){0,2}$/);
const tag = fc.stringMatching(/^[\w][\w.-]{0,20}$/);
const host = fc.oneof(
  fc.constant('ghcr.io'),
  fc.constant('localhost:5000'),
  fc
    .tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 1, max: 65535 }))
    .map(([a, p]) => `10.0.0.${a}:${p}`),
  fc.stringMatching(/^[a-z][a-z0-9]{0,8}\.(io|com|dev)$/),
);

test('property: formatted references parse back to themselves', () => {
  fc.assert(
    fc.property(
      host,
      fc.array(component, { minLength: 1, maxLength: 3 }),
      fc.option(tag),
      fc.option(fc.stringMatching(/^[a-f0-9]{64}$/)),
      (h, parts, t, d) => {
        const ref = {
          registry: h,
          repository: parts.join('/'),
          ...(t !== null && { tag: t }),
          ...(d !== null && { digest: `sha256:${d}` as const }),
        };
        const s = formatDockerReference(ref);
        const parsed = parseDockerReference(s, { defaultTag: false });
        assert.deepEqual(parsed, ref);
        const back = parseImageRef(`docker://${s}`);
        assert.equal(formatImageRef(back), `docker://${formatDockerReference(parseDockerReference(s))}`);
      },
    ),
    { numRuns: 500 },
  );
});

test('property: any string either parses or throws a DistillError, never anything else', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 120 }), (s) => {
      try {
        parseImageRef(s);
      } catch (e) {
        assert.ok(isDistillError(e), `${JSON.stringify(s)} threw ${String(e)}`);
      }
    }),
    { numRuns: 2000 },
  );
});
