import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { mergedTree } from '../../src/inspect/index.js';
import { dir, file, imageOf, opaque, type T, whiteout } from './helpers.js';

type Op =
  | { op: 'file'; path: string; size: number }
  | { op: 'dir'; path: string }
  | { op: 'whiteout'; path: string }
  | { op: 'opaque'; path: string };

interface ModelNode {
  type: 'file' | 'dir';
  size: number;
  layer: number;
}

/**
 * The OCI layer semantics, stated plainly: a layer's whiteouts and opaque markers first delete
 * from what the lower layers built (order in the tar does not matter), then its entries are
 * added in order. A missing parent is created; a parent that is a lower layer's file becomes a
 * directory; a parent that is a file of the same layer makes the entry be skipped.
 */
function model(layers: Op[][]): { state: Map<string, ModelNode>; wasted: number } {
  const state = new Map<string, ModelNode>();
  let wasted = 0;
  const removeTree = (path: string, self: boolean) => {
    for (const [p, n] of [...state]) {
      if ((self && p === path) || p.startsWith(`${path}/`)) {
        if (n.type === 'file') wasted += n.size;
        state.delete(p);
      }
    }
  };
  layers.forEach((ops, layer) => {
    const before = new Map(state);
    for (const o of ops) {
      if (o.op === 'whiteout' && before.has(o.path) && state.has(o.path)) removeTree(o.path, true);
      if (o.op === 'opaque' && before.get(o.path)?.type === 'dir' && state.get(o.path)?.type === 'dir') {
        removeTree(o.path, false);
      }
    }
    for (const o of ops) {
      if (o.op !== 'file' && o.op !== 'dir') continue;
      const parts = o.path.split('/');
      let skipped = false;
      for (let i = 1; i < parts.length; i++) {
        const anc = parts.slice(0, i).join('/');
        const n = state.get(anc);
        if (n?.type === 'file') {
          if (n.layer === layer) {
            skipped = true;
            break;
          }
          removeTree(anc, true);
        }
        if (state.get(anc) === undefined) state.set(anc, { type: 'dir', size: 0, layer });
      }
      if (skipped) continue;
      const existing = state.get(o.path);
      if (existing?.type === 'dir' && o.op === 'dir') {
        existing.layer = layer;
        continue;
      }
      if (existing) removeTree(o.path, true);
      state.set(
        o.path,
        o.op === 'file' ? { type: 'file', size: o.size, layer } : { type: 'dir', size: 0, layer },
      );
    }
  });
  return { state, wasted };
}

function entry(o: Op): T {
  switch (o.op) {
    case 'file':
      return file(o.path, 'x'.repeat(o.size));
    case 'dir':
      return dir(`${o.path}/`);
    case 'whiteout':
      return whiteout(o.path);
    case 'opaque':
      return opaque(o.path);
  }
}

const pathArb = fc.array(fc.constantFrom('a', 'b'), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('file' as const), path: pathArb, size: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ op: fc.constant('dir' as const), path: pathArb }),
  fc.record({ op: fc.constant('whiteout' as const), path: pathArb }),
  fc.record({ op: fc.constant('opaque' as const), path: pathArb }),
);

test('the merged tree matches the model for random layers of files, directories, whiteouts and opaque markers', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 1, maxLength: 4 }),
      async (layers) => {
        const t = await mergedTree(
          await imageOf({ layers: layers.map((ops) => ops.map(entry)), gzip: false }),
        );
        const { state, wasted } = model(layers);
        const got = [...t.files()].map((r) => `${r.path} ${r.type} ${r.size} ${r.layer}`);
        const want = [...state]
          .map(([p, n]) => [`/${p}`, `/${p} ${n.type} ${n.size} ${n.layer}`] as const)
          .sort((a, b) =>
            Buffer.compare(Buffer.from(a[0].replaceAll('/', '\0')), Buffer.from(b[0].replaceAll('/', '\0'))),
          )
          .map(([, s]) => s);
        assert.deepEqual(got, want);
        assert.equal(t.wastedBytes, wasted);
        assert.equal(t.size, state.size);
        // scan() goes the way walk() does, with one view for all.
        const scanned: string[] = [];
        t.scan((n) =>
          scanned.push(`${n.path} ${n.type} ${n.size} ${n.layer} ${n.touched} ${n.depth} ${n.top}`),
        );
        const walked = [...t.walk()].map(
          ([p, n]) =>
            `${p} ${n.type} ${n.size} ${n.layer} ${n.touched} ${p.split('/').length - 1} ${p.split('/')[1]}`,
        );
        assert.deepEqual(scanned, walked);
      },
    ),
    { numRuns: 500 },
  );
});
