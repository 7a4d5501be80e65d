import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Deb822Parser, parseDeb822, parseDeb822Single, parseDeb822Stream } from '../../src/debian/deb822.js';
import { isDistillError } from '../../src/errors.js';

/** deb822 input no Debian tool writes: NULs, missing fields, lines and paragraphs past the caps. */

const invalid = (what: RegExp) => (err: unknown) => {
  assert.ok(isDistillError(err, 'DEB822_INVALID'), `expected DEB822_INVALID, got ${String(err)}`);
  assert.match(err.message, what);
  return true;
};

test('a NUL anywhere in a line is DEB822_INVALID naming the line', () => {
  for (const text of ['Package: a\0b\n', 'Pack\0age: a\n', 'Package: a\nDescription: x\n more\0\n', '\0\n']) {
    assert.throws(
      () => parseDeb822(text, { source: 'status' }),
      invalid(/^status: line \d+: NUL byte/),
      JSON.stringify(text),
    );
  }
  // and in bytes, where the NUL is valid UTF-8
  assert.throws(() => parseDeb822(Buffer.from('Package: a\nVersion: 1\0\n')), invalid(/line 2: NUL byte/));
});

test('a missing field is DEB822_INVALID naming the paragraph and the field', () => {
  const p = parseDeb822Single('Package: hello\nVersion: 1\n');
  assert.throws(
    () => p.require('Architecture'),
    invalid(/paragraph for hello at line 1 has no Architecture field/),
  );
  assert.throws(() => parseDeb822Single(''), invalid(/expected one paragraph, found 0/));
  assert.throws(() => parseDeb822Single('A: 1\n\nB: 2\n'), invalid(/expected one paragraph, found 2/));
});

test('a paragraph past its cap is refused at the line that passes it', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `F${i}: ${'x'.repeat(100)}\n`).join('');
  assert.throws(
    () => parseDeb822(lines, { maxParagraphSize: 5000 }),
    invalid(/line 4\d: paragraph is larger than the limit of 5000/),
  );
});

test('a long line fed one character at a time is refused as soon as it passes the cap, in linear time', () => {
  const parser = new Deb822Parser({ maxFieldSize: 100_000 });
  const started = Date.now();
  assert.throws(
    () => {
      parser.push('Package: ');
      for (let i = 0; i < 200_000; i++) parser.push('x');
    },
    invalid(/line 1: line is longer than the field size limit of 100000/),
  );
  assert.ok(Date.now() - started < 5_000);
});

test('streams of many tiny paragraphs and blank lines end, paragraph after paragraph', async () => {
  const text = 'A: 1\n\n\n \n\t\n'.repeat(50_000);
  let n = 0;
  for await (const _ of parseDeb822Stream([Buffer.from(text)])) n++;
  assert.equal(n, 50_000);
});

test('an invalid UTF-8 sequence cut at the end of the stream is DEB822_INVALID', async () => {
  await assert.rejects(
    async () => {
      for await (const _ of parseDeb822Stream([
        Buffer.from('Package: a\nVersion: 1'),
        Buffer.from([0xe2, 0x82]),
      ]));
    },
    invalid(/truncated sequence at end/),
  );
});
