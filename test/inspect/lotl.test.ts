import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOTL_TOOLS, lotlToolOf } from '../../src/inspect/lotl.js';

test('every living-off-the-land tool has a reason and a name of its own', () => {
  const names = LOTL_TOOLS.map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(LOTL_TOOLS.every((t) => t.reason.length >= 15));
  for (const required of [
    'curl',
    'wget',
    'nc',
    'socat',
    'python',
    'perl',
    'openssl',
    'ssh',
    'gcc',
    'base64',
  ]) {
    assert.ok(names.includes(required), required);
  }
  assert.ok(!names.includes('node'), 'node is the runtime distill images carry');
});

test('lotlToolOf: a binary belongs to the tool of its name, else to the one whose pattern matches', () => {
  assert.equal(lotlToolOf('su')?.name, 'su');
  assert.equal(lotlToolOf('sudo')?.name, 'sudo');
  assert.equal(lotlToolOf('python3.13')?.name, 'python');
  assert.equal(lotlToolOf('clang-19')?.name, 'gcc');
  assert.equal(lotlToolOf('node'), undefined);
  assert.equal(lotlToolOf('pythonista'), undefined);
});
