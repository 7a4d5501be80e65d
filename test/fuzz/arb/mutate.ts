import fc from 'fast-check';
import { resum } from '../../helpers/tar-blocks.js';

/**
 * Byte-level damage applied after a structure-aware generator made an input: bytes changed (a
 * tar header's checksum made right again or not, so that the change reaches the fields behind
 * it), a cut, bytes appended. Most inputs get little or none, so that the structure survives.
 */
export type Mutation =
  | { kind: 'set'; at: number; value: number; resum: boolean }
  | { kind: 'cut'; at: number }
  | { kind: 'append'; bytes: Uint8Array }
  | { kind: 'repeat'; at: number; length: number; times: number };

const HOSTILE_BYTES = [0x00, 0x20, 0x30, 0x37, 0x38, 0x0a, 0x3d, 0x7f, 0x80, 0xff];

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(...HOSTILE_BYTES), fc.integer({ min: 0, max: 255 })),
      resum: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ maxLength: 600 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('repeat' as const),
      at: fc.nat(),
      length: fc.integer({ min: 1, max: 1024 }),
      times: fc.integer({ min: 1, max: 8 }),
    }),
  },
);

/** Up to `max` mutations, none half of the time. */
export function mutationsArb(max = 4): fc.Arbitrary<Mutation[]> {
  return fc.oneof(fc.constant<Mutation[]>([]), fc.array(mutationArb, { minLength: 1, maxLength: max }));
}

export function applyMutations(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let b = Buffer.from(input);
  for (const m of mutations) {
    if (m.kind === 'append') b = Buffer.concat([b, m.bytes]);
    else if (b.length === 0) continue;
    else if (m.kind === 'cut') b = b.subarray(0, m.at % (b.length + 1));
    else if (m.kind === 'repeat') {
      const at = m.at % b.length;
      const piece = b.subarray(at, at + m.length);
      b = Buffer.concat([
        b.subarray(0, at),
        ...Array.from({ length: m.times + 1 }, () => piece),
        b.subarray(at + piece.length),
      ]);
    } else {
      const at = m.at % b.length;
      b[at] = m.value;
      const block = at - (at % 512);
      if (m.resum && block + 512 <= b.length) resum(b.subarray(block, block + 512));
    }
  }
  return b;
}

/** An arbitrary of inputs made by `make` and then mutated. */
export function mutated<T>(
  structure: fc.Arbitrary<T>,
  make: (v: T) => Uint8Array,
  max = 4,
): fc.Arbitrary<Uint8Array> {
  return fc.tuple(structure, mutationsArb(max)).map(([v, ms]) => applyMutations(make(v), ms));
}
