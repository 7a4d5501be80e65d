import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBaseFile } from '../src/cli/config.js';
import { isDistillError } from '../src/errors.js';

/** `mirror:` in base.yaml: one URL for every suite, or a map of suite to URL. */
test('mirror: a URL serves every suite, a map one suite each; URLs lose trailing slashes', () => {
  assert.deepEqual(parseBaseFile('variant: static\nmirror: http://m.example/debian/\n', 'b.yaml').mirror, {
    all: 'http://m.example/debian',
    suites: {},
  });
  assert.deepEqual(
    parseBaseFile(
      'variant: static\nmirror:\n  trixie: http://m.example/debian\n  trixie-security: https://s.example/sec/\n',
      'b.yaml',
    ).mirror,
    { suites: { trixie: 'http://m.example/debian', 'trixie-security': 'https://s.example/sec' } },
  );
  assert.equal(parseBaseFile('variant: static\n', 'b.yaml').mirror, undefined);
});

test('mirror: a bad URL, a list or a bad suite name is CONFIG_FILE_INVALID naming the line', () => {
  for (const [yaml, message] of [
    ['variant: static\nmirror: deb.debian.org\n', /^b\.yaml:2: mirror "deb\.debian\.org" is not a URL/],
    ['variant: static\nmirror: [http://a]\n', /^b\.yaml:2: mirror must be a URL or a map of suite to URL/],
    ['variant: static\nmirror: 42\n', /^b\.yaml:2: mirror must be a URL/],
    ['variant: static\nmirror:\n  trixie: ftp://a\n', /^b\.yaml:3: mirror\.trixie "ftp:\/\/a" uses ftp:/],
    ['variant: static\nmirror:\n  "../x": http://a\n', /^b\.yaml:3: mirror\.\.\.\/x is not a suite name/],
  ] as const) {
    assert.throws(
      () => parseBaseFile(yaml, 'b.yaml'),
      (e) => isDistillError(e, 'CONFIG_FILE_INVALID') && message.test(e.message),
      yaml,
    );
  }
});
