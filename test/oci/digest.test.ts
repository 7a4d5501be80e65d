import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import fc from 'fast-check';
import { isDistillError } from '../../src/errors.js';
import { digestOf, isDigest, parseDigest } from '../../src/oci/digest.js';
import { VerifyStream } from '../../src/oci/verify.js';

test('digests: sha256 and sha512 parse, anything else is DIGEST_INVALID', () => {
  assert.equal(parseDigest(`sha256:${'0'.repeat(64)}`).algorithm, 'sha256');
  assert.equal(parseDigest(`sha512:${'f'.repeat(128)}`).hex.length, 128);
  for (const bad of [
    'sha256:',
    `sha256:${'0'.repeat(63)}`,
    `SHA256:${'0'.repeat(64)}`,
    `sha256:${'G'.repeat(64)}`,
    `md5:${'0'.repeat(32)}`,
    'nonsense',
    `sha512:${'0'.repeat(64)}`,
  ]) {
    assert.throws(
      () => parseDigest(bad),
      (e) => isDistillError(e, 'DIGEST_INVALID'),
      bad,
    );
    assert.equal(isDigest(bad), false);
  }
});

test('property: digestOf always yields a digest that parses; random strings never crash the parser', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom('sha256' as const, 'sha512' as const),
      (bytes, alg) => {
        const d = digestOf(bytes, alg);
        assert.equal(parseDigest(d).digest, d);
      },
    ),
  );
  fc.assert(
    fc.property(fc.string(), (s) => {
      try {
        parseDigest(s);
        assert.ok(isDigest(s));
      } catch (e) {
        assert.ok(isDistillError(e, 'DIGEST_INVALID'));
      }
    }),
    { numRuns: 2000 },
  );
});

async function drain(s: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of s);
}

test('VerifyStream: passes good bytes, rejects wrong digest and wrong size', async () => {
  const bytes = Buffer.from('hello layer');
  const d = digestOf(bytes);
  await pipeline(Readable.from([bytes]), new VerifyStream({ digest: d, size: bytes.length }, 'blob'), drain);
  await assert.rejects(
    pipeline(
      Readable.from([Buffer.from('hello lay3r')]),
      new VerifyStream({ digest: d, size: bytes.length }, 'blob'),
      drain,
    ),
    (e) => isDistillError(e, 'DIGEST_MISMATCH'),
  );
  await assert.rejects(
    pipeline(
      Readable.from([bytes, bytes]),
      new VerifyStream({ digest: d, size: bytes.length }, 'blob'),
      drain,
    ),
    (e) => isDistillError(e, 'SIZE_MISMATCH'),
  );
  await assert.rejects(
    pipeline(
      Readable.from([bytes.subarray(0, 3)]),
      new VerifyStream({ digest: d, size: bytes.length }, 'blob'),
      drain,
    ),
    (e) => isDistillError(e, 'SIZE_MISMATCH'),
  );
});
