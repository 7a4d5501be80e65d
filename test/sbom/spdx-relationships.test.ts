import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type Sbom, type SbomComponent, sortComponents } from '../../src/sbom/model.js';
import { formatSbom } from '../../src/sbom/write.js';
import { component } from './samples.js';

/**
 * The SPDX writer sorts its relationships field by field instead of by one NUL-joined key string
 * each (decision 0037: tens of MB less on the near-the-cap image). The order, and so the bytes,
 * must be what sorting the joined keys gave: here that older way, applied to the SPDX ids the
 * document gives its packages, is the reference for random models (names that differ only in
 * case or punctuation, ids that are prefixes of others, repeated and dangling dependencies).
 */
interface Rel {
  spdxElementId: string;
  relationshipType: string;
  relatedSpdxElement: string;
}

function joinedKeyOrder(sbom: Sbom, packages: { SPDXID: string }[]): Rel[] {
  const sorted = sortComponents(sbom.components);
  const ids = new Map(sorted.map((c, i) => [c.id, packages[i]!.SPDXID]));
  const rootId = ids.get(sbom.root)!;
  const byKey = new Map<string, [string, string, string]>();
  const add = (r: [string, string, string]) => byKey.set(r.join('\u0000'), r);
  add(['SPDXRef-DOCUMENT', 'DESCRIBES', rootId]);
  for (const c of sorted) {
    const from = ids.get(c.id)!;
    if (c.id !== sbom.root) add([rootId, 'CONTAINS', from]);
    for (const d of c.dependsOn) {
      const to = ids.get(d);
      if (to !== undefined) add([from, 'DEPENDS_ON', to]);
    }
  }
  return [...byKey.keys()].sort().map((k) => {
    const [a, type, b] = byKey.get(k)!;
    return { spdxElementId: a, relationshipType: type, relatedSpdxElement: b };
  });
}

const arbName = fc.stringMatching(/^[a-zA-Z0-9._@/-]{1,6}$/);

test('SPDX relationships: the order of their NUL-joined keys, each once', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ name: arbName, version: fc.constantFrom('1', '1.0', '1.0.0-a', '2') }), {
        minLength: 1,
        maxLength: 25,
      }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 60 }),
      fc.nat(),
      (raw, edges, rootPick) => {
        const seen = new Set<string>();
        const components: SbomComponent[] = [];
        for (const r of raw) {
          const c = component({ kind: 'npm', name: r.name, version: r.version, path: `/app/${r.name}` });
          if (!seen.has(c.id)) components.push(c);
          seen.add(c.id);
        }
        for (const [from, to] of edges) {
          // Some point at no component (a dependency not in the image): left out, as before.
          const target = to % (components.length + 2);
          components[from % components.length]!.dependsOn.push(
            components[target]?.id ?? `npm:gone-${target}`,
          );
        }
        const sbom: Sbom = {
          subject: { name: 'oci:x:1' },
          root: components[rootPick % components.length]!.id,
          components,
          tool: { name: 'distill', version: '0' },
        };
        const doc = JSON.parse(formatSbom(sbom, 'spdx-json')) as {
          packages: { SPDXID: string }[];
          relationships: Rel[];
        };
        assert.deepEqual(doc.relationships, joinedKeyOrder(sbom, doc.packages));
      },
    ),
    { numRuns: 300 },
  );
});
