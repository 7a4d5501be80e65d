import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspectImage } from '../../src/inspect/index.js';
import { dir, file, imageOf, symlink } from './helpers.js';

test('shells also come from /etc/shells: rbash is found, paths not in the image and nologin are not', async () => {
  const f = await inspectImage(
    await imageOf({
      layers: [
        [
          symlink('bin', 'usr/bin'),
          dir('usr/bin/'),
          file('usr/bin/bash', 'bash', 0o755),
          symlink('usr/bin/rbash', 'bash'),
          file('usr/bin/dash', 'dash', 0o755),
          symlink('usr/bin/sh', 'dash'),
          file('usr/sbin/nologin', 'n', 0o755),
          dir('opt/shells/'),
          file('opt/shells/oursh', 'x', 0o755),
          file('opt/shells/not-executable', 'x', 0o644),
          dir('etc/'),
          symlink('etc/shells', '../usr/share/shells'),
          file(
            'usr/share/shells',
            '# /etc/shells: valid login shells\n/bin/sh\n/usr/bin/sh\n/bin/bash\n/bin/rbash\n/usr/bin/rbash\n' +
              '/bin/zsh\n/usr/sbin/nologin\n/opt/shells/oursh\n/opt/shells/not-executable\nnot/absolute\n',
          ),
        ],
      ],
    }),
  );
  assert.deepEqual(
    f.shells.map((s) => `${s.name} ${s.path} -> ${s.target}`),
    [
      'bash /bin/bash -> /usr/bin/bash',
      'dash /bin/dash -> /usr/bin/dash',
      'oursh /opt/shells/oursh -> null',
      'rbash /bin/rbash -> /usr/bin/bash',
      'sh /bin/sh -> /usr/bin/dash',
    ],
  );
  // Without /etc/shells, rbash is not a shell name distill knows.
  const without = await inspectImage(
    await imageOf({ layers: [[file('bin/bash', 'b', 0o755), symlink('bin/rbash', 'bash')]] }),
  );
  assert.deepEqual(
    without.shells.map((s) => s.name),
    ['bash'],
  );
});

test('attack-surface tools are named after their own binary, each with its own reason', async () => {
  const f = await inspectImage(
    await imageOf({
      layers: [
        [
          file('bin/su', 'su', 0o4755),
          file('usr/bin/sudo', 'sudo', 0o4755),
          file('usr/bin/ncat', 'n', 0o755),
          symlink('usr/bin/nc', 'ncat'),
          file('usr/bin/mawk', 'm', 0o755),
          symlink('usr/bin/awk', 'mawk'),
          file('usr/bin/gcc-14', 'g', 0o755),
        ],
      ],
    }),
  );
  const by = Object.fromEntries(f.lotl.map((t) => [t.name, t]));
  assert.deepEqual(Object.keys(by), ['awk', 'gcc-14', 'mawk', 'nc', 'ncat', 'su', 'sudo']);
  assert.equal(by.su!.path, '/bin/su');
  assert.match(by.su!.reason, /switches user with a password/);
  assert.match(by.sudo!.reason, /runs commands as another user/);
  assert.notEqual(by.nc!.reason, by.ncat!.reason);
  assert.match(by['gcc-14']!.reason, /compiles/);
});
