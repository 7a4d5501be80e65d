import fc from 'fast-check';
import { octal, paxRecord, TAR_END, tarBlock, tarData } from '../../helpers/tar-blocks.js';
import { mutated } from './mutate.js';

/**
 * Tar archives that are valid-ish by construction (right checksums, content where the sizes say)
 * and then bent: size fields that are negative, huge, garbage or wrong; every typeflag, PAX and
 * GNU long headers, sparse headers with extension blocks, names that leave the archive, missing or
 * extra end blocks; then byte damage (mutate.ts).
 */

/** How a header's size field is written. */
type SizeField =
  | { kind: 'exact' }
  | { kind: 'octal'; value: number }
  | { kind: 'base256'; value: bigint; negative: boolean }
  | { kind: 'text'; text: string };

const sizeFieldArb: fc.Arbitrary<SizeField> = fc.oneof(
  { weight: 12, arbitrary: fc.constant({ kind: 'exact' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('octal' as const), value: fc.nat({ max: 8 ** 11 - 1 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('base256' as const),
      value: fc.oneof(
        fc.bigInt({ min: 0n, max: 2n ** 87n }),
        fc.constantFrom(0n, 1n, 512n, 2n ** 53n, 2n ** 53n + 1n),
      ),
      negative: fc.boolean(),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('text' as const),
      text: fc.constantFrom(
        '  abc      \0',
        '-0000000001 ',
        '\0\0\0\0\0\0\0\0\0\0\0\0',
        '           ',
        '99999999999 ',
        '0000000001x ',
      ),
    }),
  },
);

function sizeBytes(f: SizeField, exact: number): string | Buffer {
  switch (f.kind) {
    case 'exact':
      return octal(exact);
    case 'octal':
      return octal(f.value);
    case 'text':
      return f.text;
    case 'base256': {
      const b = Buffer.alloc(12, f.negative ? 0xff : 0);
      b[0] = f.negative ? 0xff : 0x80;
      let v = f.value;
      for (let i = 11; i > 0 && v > 0n; i--, v >>= 8n)
        b[i] = f.negative ? 0xff - Number(v & 0xffn) : Number(v & 0xffn);
      return b;
    }
  }
}

const segment = fc.oneof(
  fc.constantFrom(
    'a',
    'bin',
    'usr',
    'etc',
    '.',
    '..',
    '',
    'é',
    '\u{1F600}',
    'x'.repeat(120),
    'with space',
    'a\0b',
    '.wh.file',
    '.wh..wh..opq',
  ),
  fc.string({ maxLength: 12 }),
);
export const nameArb = fc.array(segment, { minLength: 1, maxLength: 5 }).map((s) => s.join('/'));

const PAX_KEYS = [
  'path',
  'linkpath',
  'size',
  'uid',
  'gid',
  'mtime',
  'uname',
  'GNU.sparse.major',
  'GNU.sparse.map',
  'SCHILY.xattr.user.x',
  'comment',
  'atime',
];
const PAX_VALUES = [
  '-512',
  '0',
  '1',
  '3',
  '1e3',
  '12abc',
  '',
  ' 12',
  '99999999999999999999',
  '1.5',
  '-1.5',
  'NaN',
  'a/b',
  '../../etc/passwd',
  'x'.repeat(300),
  'a\0b',
  'é',
];

/** One PAX record with its length right or wrong in the ways that matter. */
const paxRecordArb = fc
  .record({
    key: fc.oneof(fc.constantFrom(...PAX_KEYS), fc.string({ maxLength: 10 })),
    value: fc.oneof(fc.constantFrom(...PAX_VALUES), fc.string({ maxLength: 20 })),
    length: fc.constantFrom(
      'right',
      'right',
      'right',
      'plus1',
      'minus1',
      'zero',
      'negative',
      'nondigit',
      'huge',
      'nonewline',
    ),
  })
  .map(({ key, value, length }) => {
    const right = paxRecord(key, value);
    const body = right.slice(right.indexOf(' '));
    const len = Number(right.slice(0, right.indexOf(' ')));
    switch (length) {
      case 'plus1':
        return `${len + 1}${body}`;
      case 'minus1':
        return `${len - 1}${body}`;
      case 'zero':
        return `0${body}`;
      case 'negative':
        return `-${len}${body}`;
      case 'nondigit':
        return `x${body}`;
      case 'huge':
        return `999999999${body}`;
      case 'nonewline':
        return `${len}${body.slice(0, -1)}.`;
      default:
        return right;
    }
  });

export const paxRecordsArb = fc.array(paxRecordArb, { maxLength: 5 }).map((r) => r.join(''));

type Member =
  | {
      kind: 'entry';
      flag: string;
      name: string;
      content: Uint8Array;
      linkname: string;
      size: SizeField;
      gnu: boolean;
    }
  | { kind: 'pax'; flag: 'x' | 'g'; records: string; size: SizeField }
  | { kind: 'long'; flag: 'L' | 'K'; text: string; size: SizeField }
  | { kind: 'sparse'; extensions: number; content: Uint8Array };

const entryArb = fc.record({
  kind: fc.constant('entry' as const),
  flag: fc.oneof(
    fc.constantFrom('0', '0', '0', '5', '2', '1', '6', '3', '4', '7', '\0'),
    fc.constantFrom('A', 'V', 'M', 'N', 'D', 'I', '9', ' '),
  ),
  name: nameArb,
  content: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ minLength: 500, maxLength: 1100 })),
  linkname: nameArb,
  size: sizeFieldArb,
  gnu: fc.boolean(),
});

export function memberArb(paxWeight: number): fc.Arbitrary<Member> {
  return fc.oneof(
    { weight: 6, arbitrary: entryArb },
    {
      weight: paxWeight,
      arbitrary: fc.record({
        kind: fc.constant('pax' as const),
        flag: fc.constantFrom('x' as const, 'x' as const, 'g' as const),
        records: paxRecordsArb,
        size: sizeFieldArb,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('long' as const),
        flag: fc.constantFrom('L' as const, 'K' as const),
        text: fc.oneof(nameArb, fc.constant('z'.repeat(700))),
        size: sizeFieldArb,
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('sparse' as const),
        extensions: fc.nat({ max: 3 }),
        content: fc.uint8Array({ maxLength: 40 }),
      }),
    },
  );
}

function renderMember(m: Member): Buffer {
  switch (m.kind) {
    case 'entry': {
      const fields = {
        name: m.name,
        flag: m.flag,
        linkname: m.linkname,
        magic: m.gnu ? ('gnu' as const) : ('ustar' as const),
      };
      return Buffer.concat([
        tarBlock({ ...fields, size: sizeBytes(m.size, m.content.length) }),
        tarData(Buffer.from(m.content)),
      ]);
    }
    case 'pax': {
      const data = Buffer.from(m.records);
      return Buffer.concat([
        tarBlock({ name: 'PaxHeader', flag: m.flag, size: sizeBytes(m.size, data.length) }),
        tarData(data),
      ]);
    }
    case 'long': {
      const data = Buffer.from(`${m.text}\0`);
      return Buffer.concat([
        tarBlock({ name: '././@LongLink', flag: m.flag, size: sizeBytes(m.size, data.length), magic: 'gnu' }),
        tarData(data),
      ]);
    }
    case 'sparse': {
      const ext = Array.from({ length: m.extensions }, (_, i) => {
        const b = Buffer.alloc(512);
        b[504] = i < m.extensions - 1 ? 1 : 0;
        return b;
      });
      const head = tarBlock({
        name: 'sparse',
        flag: 'S',
        size: m.content.length,
        magic: 'gnu',
        poke: [{ at: 482, bytes: Buffer.from([m.extensions > 0 ? 1 : 0]) }],
      });
      return Buffer.concat([head, ...ext, tarData(Buffer.from(m.content))]);
    }
  }
}

const endArb = fc.constantFrom('two', 'two', 'one', 'none', 'garbage');

export function renderTar(members: readonly Member[], end: string): Buffer {
  const tail =
    end === 'two'
      ? TAR_END
      : end === 'one'
        ? TAR_END.subarray(0, 512)
        : end === 'garbage'
          ? Buffer.concat([TAR_END, Buffer.from('trailing bytes')])
          : Buffer.alloc(0);
  return Buffer.concat([...members.map(renderMember), tail]);
}

/** A tar, structure first, then damage. `paxWeight` makes PAX headers more or less frequent. */
export function tarArb(
  opts: { paxWeight?: number; maxMembers?: number; mutations?: number } = {},
): fc.Arbitrary<Uint8Array> {
  const structure = fc.tuple(
    fc.array(memberArb(opts.paxWeight ?? 2), { maxLength: opts.maxMembers ?? 8 }),
    endArb,
  );
  return mutated(structure, ([members, end]) => renderTar(members, end), opts.mutations ?? 3);
}

/** Valid tars only (no damage, exact sizes, regular files): the content of layers and members. */
export const plainTarArb: fc.Arbitrary<Buffer> = fc
  .array(
    fc.record({
      name: fc.constantFrom('a', 'etc/os-release', 'usr/bin/x', 'dir/file', 'lib/apk/db/installed'),
      content: fc.uint8Array({ maxLength: 300 }),
    }),
    { maxLength: 4 },
  )
  .map((files) =>
    Buffer.concat([
      ...files.map((f) =>
        Buffer.concat([tarBlock({ name: f.name, size: f.content.length }), tarData(Buffer.from(f.content))]),
      ),
      TAR_END,
    ]),
  );
