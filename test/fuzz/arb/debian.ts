import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { TAR_END, tarBlock, tarData } from '../../helpers/tar-blocks.js';
import { applyMutations, mutated, mutationsArb } from './mutate.js';
import { plainTarArb, tarArb } from './tar.js';

/**
 * deb822 text (control files, dpkg status), apk's installed database, and .deb packages: an ar
 * archive of debian-binary, control.tar and data.tar made right, members and sizes bent, the
 * tars inside from tar.ts.
 */

const FIELD_NAMES = [
  'Package',
  'Version',
  'Architecture',
  'Status',
  'Depends',
  'Description',
  'Maintainer',
  'Installed-Size',
  'Provides',
  'Conffiles',
  'X-Custom',
];
const BAD_NAMES = ['', '#comment', '-dash', 'Has Space', 'Colon:Inside', 'é', 'Pack\0age'];

const valueArb = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom(
      'hello',
      '1.0-1',
      'amd64',
      'install ok installed',
      'libc6 (>= 2.36)',
      'all',
      '',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('x'.repeat(5000), 'a\0b', 'carriage\rreturn', '\uFFFD\uD800', '  padded  '),
  },
);

const lineArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .tuple(
        fc.oneof(
          { weight: 8, arbitrary: fc.constantFrom(...FIELD_NAMES) },
          { weight: 1, arbitrary: fc.constantFrom(...BAD_NAMES) },
        ),
        valueArb,
      )
      .map(([n, v]) => `${n}: ${v}\n`),
  },
  { weight: 2, arbitrary: valueArb.map((v) => ` ${v}\n`) },
  { weight: 1, arbitrary: fc.constantFrom('\n', ' \n', '\t\n', '# comment\n', ' .\n', 'no colon\n', '\r\n') },
);

export const deb822TextArb = fc
  .tuple(fc.array(lineArb, { maxLength: 30 }), fc.constantFrom('', '\n', 'tail without newline'))
  .map(([lines, tail]) => lines.join('') + tail);

/** deb822 bytes, sometimes with invalid UTF-8. */
export const deb822Arb: fc.Arbitrary<Uint8Array> = mutated(deb822TextArb, (t) => Buffer.from(t), 2);

const APK_LINES = [
  'P:musl',
  'V:1.2.5-r0',
  'A:x86_64',
  'o:musl',
  '',
  'P:busybox',
  'V:1.36.1-r5',
  'F:bin',
  'R:busybox',
  'Z:Q1abc=',
];
export const apkArb: fc.Arbitrary<Uint8Array> = mutated(
  fc
    .array(fc.oneof(fc.constantFrom(...APK_LINES), fc.string({ maxLength: 30 })), { maxLength: 40 })
    .map((l) => l.join('\n')),
  (t) => Buffer.from(t),
  2,
);

interface ArMember {
  name: string;
  data: Uint8Array;
  declaredSize?: string;
}

function arArchive(members: readonly ArMember[]): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const m of members) {
    const size = (m.declaredSize ?? String(m.data.length)).slice(0, 10);
    const header = `${m.name.slice(0, 16).padEnd(16)}${'0'.padEnd(12)}${'0'.padEnd(6)}${'0'.padEnd(6)}${'100644'.padEnd(8)}${size.padEnd(10)}\`\n`;
    parts.push(Buffer.from(header, 'latin1'), Buffer.from(m.data));
    if (m.data.length % 2 === 1) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

function controlTar(control: string, md5sums: string): Buffer {
  const file = (name: string, text: string) => {
    const data = Buffer.from(text);
    return Buffer.concat([tarBlock({ name, size: data.length }), tarData(data)]);
  };
  return Buffer.concat([
    tarBlock({ name: './', flag: '5' }),
    file('./control', control),
    file('./md5sums', md5sums),
    TAR_END,
  ]);
}

const CONTROL = 'Package: hello\nVersion: 1.0-1\nArchitecture: amd64\nDescription: test\n';

export const debArb: fc.Arbitrary<Uint8Array> = fc
  .record({
    control: fc.oneof(
      { weight: 4, arbitrary: fc.constant(CONTROL) },
      { weight: 1, arbitrary: deb822TextArb },
    ),
    md5sums: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('', 'd41d8cd98f00b204e9800998ecf8427e  usr/x\n') },
      { weight: 1, arbitrary: fc.constantFrom('bad line\n', 'd41d8cd98f00b204e9800998ecf8427e  ../etc\n') },
    ),
    data: fc.oneof(
      { weight: 3, arbitrary: plainTarArb },
      { weight: 1, arbitrary: tarArb({ maxMembers: 5, mutations: 2 }) },
    ),
    compressControl: fc.boolean(),
    compressData: fc.boolean(),
    version: fc.oneof(
      { weight: 12, arbitrary: fc.constant('2.0\n') },
      { weight: 1, arbitrary: fc.constantFrom('3.0\n', '2.0', '', '2.0\nextra\n') },
    ),
    dataName: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom('data.tar', 'data.tar.gz') },
      { weight: 1, arbitrary: fc.constantFrom('data.tar.xz', 'data.tar.zst', 'data.tar.bz2', 'data.tgz') },
    ),
    extra: fc.constantFrom([], ['_gpgorigin'], ['zz-trailing']),
    declared: fc.oneof(
      { weight: 10, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.tuple(fc.nat({ max: 2 }), fc.constantFrom('-1', '1e3', '9999999999', ' ', '0')),
      },
    ),
    mutations: fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: mutationsArb(2) }),
  })
  .map((d) => {
    const ctl = controlTar(d.control, d.md5sums);
    const data = Buffer.from(d.data);
    const members: ArMember[] = [
      { name: 'debian-binary', data: Buffer.from(d.version) },
      {
        name: d.compressControl ? 'control.tar.gz' : 'control.tar',
        data: d.compressControl ? gzipSync(ctl) : ctl,
      },
      ...d.extra.filter((n) => n.startsWith('_')).map((name) => ({ name, data: Buffer.from('sig') })),
      {
        name: d.dataName === 'data.tar.gz' && !d.compressData ? 'data.tar' : d.dataName,
        data: d.compressData && d.dataName === 'data.tar.gz' ? gzipSync(data) : data,
      },
      ...d.extra.filter((n) => !n.startsWith('_')).map((name) => ({ name, data: Buffer.from('x') })),
    ];
    if (d.declared) members[d.declared[0]]!.declaredSize = d.declared[1];
    return applyMutations(arArchive(members), d.mutations);
  });
