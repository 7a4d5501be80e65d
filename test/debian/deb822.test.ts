import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  Deb822Parser,
  Paragraph,
  parseDeb822,
  parseDeb822Single,
  parseDeb822Stream,
  serializeDeb822,
  serializeParagraph,
} from '../../src/debian/deb822.js';
import { isDistillError } from '../../src/errors.js';
import { IN_CI, realPackagesIndex } from './helpers.js';

const SAMPLE = `Package: libc6
Version: 2.36-9+deb12u4
Architecture: amd64
Depends: libgcc-s1
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system.
 .
 This package includes shared versions.

Package: tzdata
Version: 2024a-0+deb12u1
Architecture: all
conffiles:
 /etc/timezone 1234
`;

function expectCode(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDistillError(err), `expected DistillError, got ${String(err)}`);
    assert.equal(err.code, code);
    if (re) assert.match(err.message, re);
    return true;
  });
}

async function collect(gen: AsyncIterable<Paragraph>): Promise<Paragraph[]> {
  const out: Paragraph[] = [];
  for await (const p of gen) out.push(p);
  return out;
}

test('deb822: paragraphs, fields, continuation lines, line numbers', () => {
  const ps = parseDeb822(SAMPLE);
  assert.equal(ps.length, 2);
  const [a, b] = ps as [Paragraph, Paragraph];
  assert.deepEqual(a.names(), ['Package', 'Version', 'Architecture', 'Depends', 'Description']);
  assert.equal(a.get('package'), 'libc6');
  assert.equal(a.get('PACKAGE'), 'libc6');
  assert.equal(
    a.get('Description'),
    'GNU C Library: Shared libraries\n Contains the standard libraries that are used by nearly all programs on\n the system.\n .\n This package includes shared versions.',
  );
  assert.equal(a.getField('Description')?.line, 5);
  assert.equal(a.line, 1);
  assert.equal(b.line, 11);
  assert.equal(b.getField('Architecture')?.line, 13);
  // original case kept, lookup case-insensitive
  assert.equal(b.getField('Conffiles')?.name, 'conffiles');
  assert.equal(b.get('Conffiles'), '\n /etc/timezone 1234');
  assert.deepEqual(b.lines('conffiles'), ['/etc/timezone 1234']);
  assert.equal(a.get('Missing'), undefined);
  assert.equal(a.has('depends'), true);
});

test('deb822: serialize round-trips the text', () => {
  const ps = parseDeb822(SAMPLE);
  assert.equal(serializeDeb822(ps), SAMPLE);
});

test('deb822: comments, CRLF, extra blank lines and whitespace-only separators', () => {
  const text = '# comment\n\n\nA: 1\n# inside\nB:  two  \r\n \t \nC: 3\n\n\n';
  const ps = parseDeb822(text);
  assert.equal(ps.length, 2);
  assert.deepEqual(ps[0]!.toObject(), { A: '1', B: 'two' });
  assert.deepEqual(ps[1]!.toObject(), { C: '3' });
  // with comments off, a # line is a field line without a colon
  expectCode(() => parseDeb822('A: 1\n# x\n', { allowComments: false }), 'DEB822_INVALID', /line 2/);
});

test('deb822: a field line without a colon is DEB822_INVALID naming the line', () => {
  expectCode(() => parseDeb822('Package: a\nVersion 1.0\n'), 'DEB822_INVALID', /line 2.*no colon/);
  expectCode(
    () => parseDeb822('A: 1\n\nB: 2\nbroken\n', { source: 'Packages' }),
    'DEB822_INVALID',
    /^Packages: line 4/,
  );
});

test('deb822: a continuation line before any field is DEB822_INVALID', () => {
  expectCode(() => parseDeb822(' leading continuation\nA: 1\n'), 'DEB822_INVALID', /line 1.*continuation/);
  expectCode(() => parseDeb822('A: 1\n\n continued?\n'), 'DEB822_INVALID', /line 3.*continuation/);
});

test('deb822: duplicate fields (any case) and bad field names are rejected', () => {
  expectCode(() => parseDeb822('Package: a\npackage: b\n'), 'DEB822_INVALID', /duplicate.*line 1/);
  expectCode(() => parseDeb822(': value\n'), 'DEB822_INVALID', /line 1/);
  expectCode(() => parseDeb822('Bad Name: x\n'), 'DEB822_INVALID', /line 1/);
  expectCode(() => parseDeb822('-Dash: x\n'), 'DEB822_INVALID', /line 1/);
});

test('deb822: huge single-line field hits the size cap instead of crashing', () => {
  const big = `A: ${'x'.repeat(2 * 1024 * 1024)}\n`;
  expectCode(
    () => parseDeb822(big, { maxFieldSize: 1024 * 1024 }),
    'DEB822_INVALID',
    /line 1.*limit of 1048576/,
  );
  // the same through the incremental parser, in chunks: it fails before buffering it all
  const parser = new Deb822Parser({ maxFieldSize: 1000 });
  parser.push('Package: a\nDescription: ');
  assert.throws(() => {
    for (let i = 0; i < 100; i++) parser.push('y'.repeat(100));
  }, /line 2.*limit of 1000/);
});

test('deb822: a field grown by continuation lines over the cap is rejected, naming it', () => {
  const lines = Array.from({ length: 50 }, () => ` ${'z'.repeat(99)}`).join('\n');
  expectCode(
    () => parseDeb822(`Package: a\nDescription: x\n${lines}\n`, { maxFieldSize: 2000 }),
    'DEB822_INVALID',
    /field Description \(from line 2\) is larger/,
  );
  expectCode(
    () => parseDeb822(`A: ${'a'.repeat(500)}\nB: ${'b'.repeat(500)}\n`, { maxParagraphSize: 800 }),
    'DEB822_INVALID',
    /paragraph is larger/,
  );
});

test('deb822: 100 MiB single line in a stream is refused with the default 16 MiB cap', async () => {
  async function* hostile() {
    yield Buffer.from('Package: evil\nDescription: ');
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 100; i++) yield chunk;
    yield Buffer.from('\n');
  }
  await assert.rejects(collect(parseDeb822Stream(hostile())), (err: unknown) => {
    assert.ok(isDistillError(err, 'DEB822_INVALID'));
    assert.match(err.message, /line 2.*16777216/);
    return true;
  });
});

test('deb822: invalid UTF-8 is DEB822_INVALID', async () => {
  expectCode(() => parseDeb822(Buffer.from([0x41, 0x3a, 0x20, 0xff, 0x0a])), 'DEB822_INVALID', /UTF-8/);
  await assert.rejects(collect(parseDeb822Stream([Buffer.from([0x41, 0x3a, 0x20, 0xc3])])), /UTF-8/);
});

test('deb822: streaming parse equals whole parse for any chunking (property)', async () => {
  const bytes = Buffer.from(`${SAMPLE}\nPackage: ünïcode\nDescription: é\n long ü\n`);
  const whole = parseDeb822(bytes);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 12 }),
      async (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        chunks.push(bytes.subarray(prev));
        const streamed = await collect(parseDeb822Stream(Readable.from(chunks)));
        assert.deepEqual(
          streamed.map((p) => p.fields),
          whole.map((p) => p.fields),
        );
      },
    ),
    { numRuns: 200 },
  );
});

test('deb822: serialize then parse is the identity on generated paragraphs (property)', () => {
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/);
  const word = fc.stringMatching(/^[!-~][ -~]{0,20}[!-~]$/);
  const value = fc.oneof(
    word,
    fc
      .tuple(
        fc.oneof(word, fc.constant('')),
        fc.array(fc.oneof(word, fc.constant('.')), { minLength: 1, maxLength: 4 }),
      )
      .map(([first, rest]) => [first, ...rest.map((l) => ` ${l}`)].join('\n')),
  );
  const paragraph = fc
    .uniqueArray(fc.tuple(name, value), { minLength: 1, maxLength: 8, selector: ([n]) => n.toLowerCase() })
    .map((entries) => Paragraph.from(entries));
  fc.assert(
    fc.property(fc.array(paragraph, { minLength: 1, maxLength: 5 }), (ps) => {
      const text = serializeDeb822(ps);
      const back = parseDeb822(text, { allowComments: false });
      assert.deepEqual(
        back.map((p) => p.toObject()),
        ps.map((p) => p.toObject()),
      );
    }),
    { numRuns: 300 },
  );
});

test('deb822: Paragraph.with / without keep order and refuse unserializable values', () => {
  const p = parseDeb822Single('Package: a\nVersion: 1\nArchitecture: all\n');
  const q = p.with('Status', 'install ok installed', { after: 'package' });
  assert.deepEqual(q.names(), ['Package', 'Status', 'Version', 'Architecture']);
  assert.deepEqual(q.with('version', '2').names(), ['Package', 'Status', 'Version', 'Architecture']);
  assert.equal(q.with('version', '2').get('Version'), '2');
  assert.deepEqual(q.without('STATUS').names(), ['Package', 'Version', 'Architecture']);
  assert.equal(p.names().length, 3, 'the original is unchanged');
  expectCode(() => p.with('Description', 'a\nb'), 'DEB822_INVALID', /continuation/);
  expectCode(() => p.with('Description', 'a\n \n .'), 'DEB822_INVALID', /continuation/);
  expectCode(() => p.with('Bad:Name', 'x'), 'DEB822_INVALID');
  expectCode(() => parseDeb822Single('A: 1\n\nB: 2\n'), 'DEB822_INVALID', /one paragraph, found 2/);
  assert.equal(serializeParagraph(Paragraph.from([['A', '']])), 'A:\n');
});

test('deb822: parses a real Packages index, streaming and whole, with the same result', async (t) => {
  const idx = realPackagesIndex();
  if ('reason' in idx) {
    if (IN_CI) throw new Error(idx.reason);
    t.skip(idx.reason);
    return;
  }
  const t0 = Date.now();
  const whole = parseDeb822(idx.text, { source: idx.file });
  const t1 = Date.now();
  const buf = Buffer.from(idx.text);
  const chunks = (function* () {
    for (let i = 0; i < buf.length; i += 65536) yield buf.subarray(i, i + 65536);
  })();
  let n = 0;
  let last: Paragraph | undefined;
  for await (const p of parseDeb822Stream(chunks, { source: idx.file })) {
    n++;
    last = p;
  }
  const t2 = Date.now();
  t.diagnostic(
    `${idx.file}: ${whole.length} paragraphs, ${buf.length} bytes; whole ${t1 - t0} ms, stream ${t2 - t1} ms`,
  );
  assert.ok(whole.length > 1000);
  assert.equal(n, whole.length);
  assert.deepEqual(last?.fields, whole.at(-1)?.fields);
  for (const p of whole) {
    assert.ok(p.get('Package') && p.get('Version') && p.get('Architecture'), `line ${p.line}`);
  }
  // and it serializes back to the same bytes, except trailing whitespace, which is not kept
  const back = serializeDeb822(whole);
  const expected = idx.text.replace(/[ \t]+$/gm, '').replace(/\n+$/, '\n');
  assert.ok(back === expected, 'serialized index differs from the original');
});
