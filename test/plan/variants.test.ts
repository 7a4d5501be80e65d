import assert from 'node:assert/strict';
import { test } from 'node:test';
import { excludedPath, NODE_APP_UNUSED_LIBS, variantSpec } from '../../src/plan/variants.js';

test('the slim OS of app images: what excludedPath leaves out of the node-app packages', () => {
  const app = variantSpec('node-app');
  const out = (p: string) => excludedPath(app, p);
  // Docs: only each package's copyright file (the licence) stays, and the package's own entry
  // (a directory, or Debian's link to the directory whose copyright covers it).
  assert.equal(out('usr/share/doc/libc6/copyright'), false);
  assert.equal(out('usr/share/doc/libc6'), false);
  assert.equal(out('usr/share/doc/libstdc++6'), false);
  assert.equal(out('usr/share/doc/libc6/NEWS.gz'), true);
  assert.equal(out('usr/share/doc/tzdata/changelog.gz'), true);
  assert.equal(out('usr/share/doc/base-files/README'), true);
  assert.equal(
    out('usr/share/doc/pkg/examples/copyright'),
    true,
    'only the top copyright file is the licence',
  );
  assert.equal(out('usr/share/docs/x'), false);
  // tzdata: the binary zones stay; right/ (leap-second zones) and the text source go.
  assert.equal(out('usr/share/zoneinfo/Europe/Berlin'), false);
  assert.equal(out('usr/share/zoneinfo/US/Eastern'), false);
  assert.equal(out('usr/share/zoneinfo/zone1970.tab'), false);
  assert.equal(out('usr/share/zoneinfo/right'), true);
  assert.equal(out('usr/share/zoneinfo/right/Europe/Berlin'), true);
  assert.equal(out('usr/share/zoneinfo/tzdata.zi'), true);
  assert.equal(out('usr/share/zoneinfo/rightish'), false, 'a prefix is a whole path component');
  // glibc: what Node links stays; the unused libraries go on both architectures.
  for (const dir of ['usr/lib/x86_64-linux-gnu', 'usr/lib/aarch64-linux-gnu']) {
    for (const lib of ['libc.so.6', 'libm.so.6', 'libpthread.so.0', 'libdl.so.2', 'libnss_files.so.2'])
      assert.equal(out(`${dir}/${lib}`), false, lib);
    for (const lib of NODE_APP_UNUSED_LIBS) assert.equal(out(`${dir}/${lib}`), true, lib);
    assert.equal(out(`${dir}/gconv/UTF-16.so`), true);
  }
  assert.equal(out('usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.33'), false);
  // Common licences: without the names the copyright files point to, all stay; with them, those.
  assert.equal(out('usr/share/common-licenses/Apache-2.0'), false);
  const named = new Set(['GPL-2', 'LGPL-2.1']);
  assert.equal(excludedPath(app, 'usr/share/common-licenses/GPL-2', named), false);
  assert.equal(excludedPath(app, 'usr/share/common-licenses/Apache-2.0', named), true);
  assert.equal(excludedPath(app, 'usr/share/common-licenses', named), false);
  assert.equal(excludedPath(variantSpec('nodejs24'), 'usr/share/common-licenses/Apache-2.0', named), false);
  // distill base variants keep their packages whole.
  for (const v of ['static', 'cc', 'nodejs24']) {
    const spec = variantSpec(v);
    assert.equal(excludedPath(spec, 'usr/share/doc/libc6/NEWS.gz'), false, v);
    assert.equal(excludedPath(spec, 'usr/share/zoneinfo/right/UTC'), false, v);
    assert.equal(excludedPath(spec, 'usr/lib/x86_64-linux-gnu/libmvec.so.1'), false, v);
  }
});
