import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { SPDX_PREDICATE_TYPE, sbomStatementBytes } from '../../src/attest/index.js';

/**
 * An SBOM's in-toto statement is made by splicing the document's bytes in as the predicate: for
 * any JSON document it must parse to exactly the statement an object literal would give.
 */
test('the spliced statement parses to the statement with the document as its predicate', () => {
  const subject = { name: 'ghcr.io/acme/app:1 linux/arm64', digest: `sha256:${'c'.repeat(64)}` };
  fc.assert(
    fc.property(fc.jsonValue(), fc.boolean(), (doc, pretty) => {
      const text = JSON.stringify(doc, null, pretty ? 2 : 0);
      const bytes = sbomStatementBytes(subject, SPDX_PREDICATE_TYPE, Buffer.from(text));
      assert.deepEqual(JSON.parse(Buffer.from(bytes).toString()), {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: subject.name, digest: { sha256: 'c'.repeat(64) } }],
        predicateType: SPDX_PREDICATE_TYPE,
        predicate: JSON.parse(text),
      });
    }),
  );
});
