import assert from 'node:assert/strict';
import { test } from 'node:test';
import { distillProcess } from './helpers/cli.js';

test('the installed entry point: --help exits 0, a usage error 2, a failure 1 with one sentence', () => {
  const help = distillProcess(['--help']);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /distill copy|copy SRC DST/);
  const usage = distillProcess(['copy', 'oci:/nonexistent']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /copy needs a source and a destination/);
  const fail = distillProcess(['digest', 'oci:/nonexistent/layout']);
  assert.equal(fail.code, 1);
  assert.equal(fail.stderr.trim().split('\n').length, 1, fail.stderr);
  assert.match(fail.stderr, /is not an OCI image layout/);
});
