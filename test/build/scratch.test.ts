import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { freemem, tmpdir } from 'node:os';
import { describe, test } from 'node:test';
import {
  availableMemory,
  mountOf,
  outOfSpace,
  parseMountinfo,
  RAM_MIN_AVAILABLE,
  RAM_MIN_FREE,
  ramUnsuitable,
  scratchRoots,
} from '../../src/build/app/scratch.js';

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw,discard',
  '23 22 0:21 / /dev rw,nosuid shared:2 - devtmpfs udev rw,size=4096k',
  '24 23 0:22 / /dev/shm rw,nosuid,nodev shared:3 - tmpfs tmpfs rw,size=12g',
  '25 22 0:23 / /tmp rw,nosuid,nodev,noexec - tmpfs tmpfs rw',
  '26 22 0:24 / /mnt/with\\040space ro,relatime - tmpfs tmpfs ro',
  '27 22 0:25 / /tmp/inner rw master:4 unbindable - tmpfs none rw',
  '',
].join('\n');

describe('scratch: where an install runs', () => {
  test('mountinfo lines are parsed, optional fields and escaped spaces included', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    assert.deepEqual(
      mounts.map((m) => [m.point, m.fstype]),
      [
        ['/', 'ext4'],
        ['/dev', 'devtmpfs'],
        ['/dev/shm', 'tmpfs'],
        ['/tmp', 'tmpfs'],
        ['/mnt/with space', 'tmpfs'],
        ['/tmp/inner', 'tmpfs'],
      ],
    );
    assert.deepEqual(mounts[3]?.options, ['rw', 'nosuid', 'nodev', 'noexec']);
  });

  test('a path is on the mount with the longest matching point, by whole components', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    assert.equal(mountOf('/dev/shm', mounts)?.point, '/dev/shm');
    assert.equal(mountOf('/dev/shm/x/y', mounts)?.point, '/dev/shm');
    assert.equal(mountOf('/dev/shmx', mounts)?.point, '/dev');
    assert.equal(mountOf('/tmp/inner/a', mounts)?.point, '/tmp/inner');
    assert.equal(mountOf('/var/tmp', mounts)?.point, '/');
    assert.equal(mountOf('/mnt/with space/a', mounts)?.fstype, 'tmpfs');
  });

  test('a RAM scratch needs tmpfs, exec, write, free space and available memory', () => {
    const mounts = parseMountinfo(MOUNTINFO);
    const roomy = [RAM_MIN_FREE, RAM_MIN_AVAILABLE] as const;
    assert.equal(ramUnsuitable(mountOf('/dev/shm', mounts), ...roomy), undefined);
    assert.equal(ramUnsuitable(mountOf('/var/tmp', mounts), ...roomy), 'ext4, not tmpfs');
    assert.equal(ramUnsuitable(mountOf('/tmp', mounts), ...roomy), 'mounted noexec');
    assert.equal(ramUnsuitable(mountOf('/mnt/with space', mounts), ...roomy), 'mounted read-only');
    assert.equal(ramUnsuitable(mountOf('/dev/shm', mounts), 64 * 2 ** 20, RAM_MIN_AVAILABLE), '64 MiB free');
    assert.equal(
      ramUnsuitable(mountOf('/dev/shm', mounts), RAM_MIN_FREE, 2 ** 30),
      '1024 MiB of memory available',
    );
    assert.equal(ramUnsuitable(undefined, ...roomy), 'no mount found');
  });

  test('running out of space is told from an fs error or from a command output', () => {
    assert.equal(outOfSpace(Object.assign(new Error('write failed'), { code: 'ENOSPC' })), true);
    assert.equal(
      outOfSpace(new Error('npm ci failed\nnpm error code ENOSPC\nnpm error syscall write')),
      true,
    );
    assert.equal(outOfSpace(new Error('tar: write error: No space left on device')), true);
    assert.equal(outOfSpace(new Error('npm error code E404')), false);
    assert.equal(outOfSpace(Object.assign(new Error('denied'), { code: 'EACCES' })), false);
  });

  test('DISTILL_SCRATCH names the roots in order, RAM where the mount is tmpfs', async () => {
    const mounts = parseMountinfo(readFileSync('/proc/self/mountinfo', 'utf8'));
    const roots = await scratchRoots({ DISTILL_SCRATCH: '/dev/shm:relative/dir:' });
    assert.deepEqual(roots, [
      { dir: '/dev/shm', ram: mountOf('/dev/shm', mounts)?.fstype === 'tmpfs' },
      {
        dir: `${process.cwd()}/relative/dir`,
        ram: mountOf(`${process.cwd()}/relative`, mounts)?.fstype === 'tmpfs',
      },
    ]);
  });

  test('without DISTILL_SCRATCH the last root is always one to fall back on', async () => {
    const roots = await scratchRoots({});
    const last = roots.at(-1);
    assert.ok(last);
    assert.equal(last.ram, false);
    assert.ok(last.dir === tmpdir() || last.dir === '/var/tmp', last.dir);
    // A RAM root comes first, when there is one, and is never the only one.
    assert.ok(roots.length === 1 || (roots.length === 2 && roots[0]?.ram === true), JSON.stringify(roots));
  });
  test('available memory is the least of the machine and every cgroup v2 limit above the process', () => {
    const GiB = 2 ** 30;
    const files: Record<string, string> = {
      '/proc/self/cgroup': '0::/ci/job-7\n',
      '/sys/fs/cgroup/ci/job-7/memory.max': 'max\n',
      '/sys/fs/cgroup/ci/job-7/memory.current': `${GiB}\n`,
      '/sys/fs/cgroup/ci/memory.max': `${3 * GiB}\n`,
      '/sys/fs/cgroup/ci/memory.current': `${2 * GiB}\n`,
    };
    const limited = availableMemory((p) => files[p]);
    // 1 GiB left under /ci (3 GiB max, 2 GiB used); job-7 itself has no limit.
    assert.equal(limited, Math.min(GiB, freemem()));
    // No cgroup v2 (or no limit anywhere): the machine's figure.
    const free = availableMemory(() => undefined);
    assert.ok(Math.abs(free - freemem()) < 256 * 2 ** 20);
    const over = availableMemory((p) =>
      p === '/proc/self/cgroup' ? '0::/\n' : p.endsWith('memory.max') ? '100\n' : '200\n',
    );
    assert.equal(over, 0);
  });
});
