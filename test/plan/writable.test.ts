import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { planWritable, writableEntries, writableOwner } from '../../src/plan/writable.js';
import type { AppDir } from '../../src/sources/app/read.js';

function app(distill?: unknown): AppDir {
  return {
    dir: '/src',
    packageJson: { name: 'x', ...(distill !== undefined && { distill }) },
    lockfiles: [],
  } as AppDir;
}

const U = '65532:65532';

function refused(code: string, re: RegExp, f: () => unknown): void {
  assert.throws(f, (e) => isDistillError(e) && e.code === code && re.test(e.message));
}

describe('writable directories and volumes', () => {
  test('flags and package.json together: absolute, normalized, sorted, once; a volume is writable too', () => {
    const p = planWritable(
      { writable: ['data', '/var/lib/app/', '/app/data'], volumes: ['/srv//uploads'] },
      app({ writable: ['cache/../tmp-files'], volumes: '/data' }),
      '/app',
      '65532:65532',
    );
    assert.deepEqual(p, {
      writable: ['/app/data', '/app/tmp-files', '/data', '/srv/uploads', '/var/lib/app'],
      volumes: ['/data', '/srv/uploads'],
    });
    // In a workspace, relative means under the package's working directory.
    assert.deepEqual(planWritable({ writable: ['data'] }, app(), '/app/packages/api', U).writable, [
      '/app/packages/api/data',
    ]);
    assert.deepEqual(planWritable({}, app(), '/app', U), { writable: [], volumes: [] });
  });

  test('refused, with the flag or field named: the root, runtime mounts, Node, /usr links, directories whose mode would change', () => {
    const flag = (dir: string) => () => planWritable({ volumes: [dir] }, app(), '/app', U);
    refused('USAGE', /^--volume \/ is the root directory; give a directory such as/, flag('/'));
    refused('USAGE', /^--volume \.\. is the root directory/, () =>
      planWritable({ volumes: ['..'] }, app(), '/app', U),
    );
    refused('USAGE', /is under \/proc, which the container runtime mounts/, flag('/proc/x'));
    refused('USAGE', /is \/dev, which the container runtime mounts/, flag('/dev'));
    refused('USAGE', /is under \/nodejs, Node's own directory, which stays read-only/, flag('/nodejs/lib'));
    refused('USAGE', /is under \/bin, a link to \/usr\/bin in the image/, flag('/bin/data'));
    refused('USAGE', /is \/tmp, which every user may write already \(mode 1777\)/, flag('/tmp'));
    refused('USAGE', /is under \/var\/tmp/, flag('/var/tmp/cache'));
    refused('USAGE', /is under \/home, the users' homes/, flag('/home/nonroot/.cache'));
    refused('USAGE', /is under \/root, root's home/, flag('/root/x'));
    refused('USAGE', /is not a directory path/, flag(' '));
    refused('APP_INVALID', /^package\.json: distill\.writable entry "\/sys\/fs" is under \/sys/, () =>
      planWritable({}, app({ writable: ['/sys/fs'] }), '/app', U),
    );
    refused('APP_INVALID', /^package\.json: distill\.volumes entry 5 is not a directory path/, () =>
      planWritable({}, app({ volumes: [5] }), '/app', U),
    );
    refused(
      'APP_INVALID',
      /^package\.json: distill\.volumes must be a list of directories, e\.g\. \["\/app\/data"\], not \{"a":1\}/,
      () => planWritable({}, app({ volumes: { a: 1 } }), '/app', U),
    );
    // /usr itself, /var and /app are ordinary directories.
    assert.deepEqual(
      planWritable({ writable: ['/usr/local/share/x', '/var/log/app', '/app'] }, app(), '/app', U).writable,
      ['/app', '/usr/local/share/x', '/var/log/app'],
    );
  });

  test('owned by the user the app runs as, which must be numeric', () => {
    assert.deepEqual(writableOwner('65532:65532'), { uid: 65532, gid: 65532 });
    assert.deepEqual(writableOwner('1000'), { uid: 1000, gid: 1000 });
    assert.deepEqual(writableOwner('0:0'), { uid: 0, gid: 0 });
    refused(
      'USAGE',
      /^--user node: writable directories and volumes are owned by the user the app runs as, so give it as UID or UID:GID/,
      () => writableOwner('node'),
    );
    refused('USAGE', /--user 1000:staff/, () => writableOwner('1000:staff'));
    assert.deepEqual(writableEntries(['/data', '/app/cache'], '1000:2000'), [
      { type: 'dir', path: '/data', mode: 0o755, uid: 1000, gid: 2000 },
      { type: 'dir', path: '/app/cache', mode: 0o755, uid: 1000, gid: 2000 },
    ]);
  });
});
