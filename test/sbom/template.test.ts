import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import type { Sbom } from '../../src/sbom/model.js';
import { fillTemplate, fillTemplateBytes, sbomTemplate } from '../../src/sbom/template.js';
import { formatSbom } from '../../src/sbom/write.js';
import { sample } from './samples.js';

const FORMATS = ['spdx-json', 'cyclonedx-json'] as const;
const digest = () => `sha256:${randomBytes(32).toString('hex')}`;

/** The sample with this image digest and root layer. */
function withValues(image: string, layer: string): Sbom {
  const s = sample();
  s.subject.digest = image;
  s.components.find((c) => c.id === s.root)!.layer = layer;
  return s;
}

test('an SBOM template filled with other digests gives the documents the writers give for them', () => {
  const made = sbomTemplate(withValues(digest(), digest()), FORMATS);
  assert.ok(made.template, 'a template');
  for (let i = 0; i < 5; i++) {
    const values = { image: digest(), layer: digest() };
    const want = withValues(values.image, values.layer);
    assert.deepEqual(
      fillTemplate(made.template!, values),
      FORMATS.map((f) => [f, formatSbom(want, f)]),
    );
  }
  // The documents it returns are those of the SBOM it was made from.
  const s = withValues(digest(), digest());
  assert.deepEqual(
    sbomTemplate(s, FORMATS).documents,
    FORMATS.map((f) => [f, formatSbom(s, f)]),
  );
});

test('no SBOM template without an image digest or a root layer to stand in for', () => {
  const s = sample();
  s.subject = { name: 'x' };
  assert.equal(sbomTemplate(s, FORMATS).template, undefined);
  assert.equal(sbomTemplate(sample(), FORMATS).template, undefined, 'the sample root has no layer');
  assert.equal(sbomTemplate(s, FORMATS).documents.length, 2);
});

test('filled as bytes (what a warm build attaches): the writers’ bytes, non-ASCII text included', () => {
  const named = (image: string, layer: string): Sbom => {
    const s = withValues(image, layer);
    for (const c of s.components) if (c.id !== s.root) c.name = `ünï-cödé-${c.name}-日本`;
    return s;
  };
  const made = sbomTemplate(named(digest(), digest()), FORMATS);
  assert.ok(made.template, 'a template');
  const t = made.template!;
  const bytes = {
    ...t,
    digestText: Buffer.from(t.digestText),
    documents: t.documents.map(([f, text]): [(typeof FORMATS)[number], Buffer] => [f, Buffer.from(text)]),
  };
  for (let i = 0; i < 3; i++) {
    const values = { image: digest(), layer: digest() };
    const want = named(values.image, values.layer);
    const filled = fillTemplateBytes(bytes, values);
    for (const [j, f] of FORMATS.entries()) {
      assert.equal(filled[j]![0], f);
      assert.ok(filled[j]![1].equals(Buffer.from(formatSbom(want, f))), `${f} bytes`);
    }
  }
});
