import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isDistillError } from '../../src/errors.js';
import { checkDeny, formatViolations, parseDenyRules, parseSize } from '../../src/inspect/deny.js';
import { type Facts, inspectImage } from '../../src/inspect/index.js';
import { file, imageOf, symlink } from './helpers.js';
import { distrolessImage, shellImage, TOKEN_VALUE } from './samples.js';

const ALL =
  'shell,package-manager,root,setuid,world-writable,secrets,lotl,libc:musl,size>1GB,compressed-size>1GB';

function usageError(message: RegExp) {
  return (err: unknown) => isDistillError(err, 'USAGE') && message.test(err.message);
}

test('parseDenyRules: comma-separated, several values, duplicates dropped, sizes with units', () => {
  assert.deepEqual(
    parseDenyRules([' shell , ROOT', 'shell,lotl:curl', 'Size > 200MB']).map((r) => r.text),
    ['shell', 'root', 'lotl:curl', 'size>200MB'],
  );
  const sizes = parseDenyRules('size>200MB,compressed-size>1.5GiB,size>4096').map((r) =>
    r.kind === 'size' ? [r.compressed, r.limit] : undefined,
  );
  assert.deepEqual(sizes, [
    [false, 200_000_000],
    [true, 1.5 * 1024 ** 3],
    [false, 4096],
  ]);
  assert.equal(parseSize('50kib'), 51_200);
  assert.equal(parseSize('3 KB'), 3000);
  assert.equal(parseSize('12XB'), undefined);
});

test('parseDenyRules: unknown rules are usage errors that list the known ones', () => {
  assert.throws(
    () => parseDenyRules('shell,bogus'),
    usageError(/"bogus" is not a --deny rule.*package-manager.*size>SIZE/),
  );
  assert.throws(() => parseDenyRules('lotl:nosuchtool'), usageError(/names no tool.*curl/));
  assert.throws(() => parseDenyRules('libc:bionic'), usageError(/is not a --deny rule/));
  assert.throws(() => parseDenyRules('size>lots'), usageError(/no size/));
  assert.throws(() => parseDenyRules('size<5MB'), usageError(/is not a --deny rule/));
  assert.throws(() => parseDenyRules(' , '), usageError(/at least one rule/));
});

test('checkDeny: each rule names what broke it in an image full of them; never a secret value', async () => {
  const f = await inspectImage(await shellImage());
  const v = checkDeny(f, parseDenyRules(`${ALL},lotl:curl,lotl:wget,size>1KB`), 'oci:shell');
  const by = Object.fromEntries(v.map((x) => [x.rule, x.what]));
  assert.deepEqual(by, {
    shell: ['/bin/busybox', '/bin/sh -> /bin/busybox'],
    'package-manager': ['apk: /sbin/apk'],
    root: ['runs as root (user unset)'],
    setuid: ['/bin/su (4755, setuid)'],
    'world-writable': ['/etc/open.conf (file, 0666)'],
    secrets: ['env API_TOKEN'],
    lotl: ['busybox: /bin/busybox', 'curl: /usr/bin/curl', 'su: /bin/su'],
    'libc:musl': ['musl at /lib/ld-musl-x86_64.so.1'],
    'lotl:curl': ['curl: /usr/bin/curl'],
    'size>1KB': [
      `${(f.size.uncompressed / 1000).toFixed(1)} KB uncompressed (${f.size.uncompressed} bytes) > 1.0 KB`,
    ],
  });
  assert.ok(v.every((x) => x.image === 'oci:shell'));
  assert.ok(!JSON.stringify(v).includes(TOKEN_VALUE));
  const text = formatViolations(v);
  assert.match(
    text,
    /^oci:shell breaks --deny shell:\n {2}\/bin\/busybox\n {2}\/bin\/sh -> \/bin\/busybox\n/,
  );
});

test('checkDeny: a distroless-like image breaks none of them', async () => {
  const f = await inspectImage(await distrolessImage());
  assert.deepEqual(checkDeny(f, parseDenyRules(ALL), 'distroless'), []);
  assert.deepEqual(
    checkDeny(f, parseDenyRules('libc:glibc'), 'distroless').map((x) => x.what),
    [['glibc at /usr/lib/x86_64-linux-gnu/libc.so.6']],
  );
});

test('checkDeny: sizes against the limit, root when it cannot be told, hostile names escaped', async () => {
  const f = await inspectImage(await distrolessImage());
  const size = f.size.uncompressed;
  assert.deepEqual(checkDeny(f, parseDenyRules(`size>${size}`), 'x'), []);
  assert.equal(checkDeny(f, parseDenyRules(`size>${size - 1}`), 'x').length, 1);
  assert.equal(checkDeny(f, parseDenyRules(`compressed-size>${f.size.compressed! - 1}B`), 'x').length, 1);
  const unknown: Facts = { ...f, user: 'app', runsAsRoot: null };
  assert.deepEqual(checkDeny(unknown, parseDenyRules('root'), 'x')[0]?.what, [
    'user app is not in /etc/passwd: whether it runs as root is unknown',
  ]);
  const rootfs: Facts = { ...f, user: null, runsAsRoot: null, source: { ...f.source, kind: 'rootfs' } };
  assert.match(checkDeny(rootfs, parseDenyRules('root'), 'x')[0]!.what[0]!, /root filesystem has no config/);
  const hostile: Facts = {
    ...f,
    shells: [{ name: 'sh', path: '/bin/\u001b[2Jsh', target: null, status: 'present' }],
  };
  assert.equal(
    formatViolations(checkDeny(hostile, parseDenyRules('shell'), 'x')),
    'x breaks --deny shell:\n  /bin/\\x1b[2Jsh',
  );
});

test('lotl:TOOL matches the tool by the binary found: su is not sudo, python3.13 is python', async () => {
  const f = await inspectImage(
    await imageOf({
      layers: [
        [
          file('bin/su', 'su', 0o755),
          file('usr/bin/python3.13', 'p', 0o755),
          symlink('usr/bin/python3', 'python3.13'),
        ],
      ],
    }),
  );
  const what = (rule: string) => checkDeny(f, parseDenyRules(rule), 'img').flatMap((v) => v.what);
  assert.deepEqual(what('lotl:su'), ['su: /bin/su']);
  assert.deepEqual(what('lotl:sudo'), []);
  assert.deepEqual(what('lotl:python'), [
    'python3: /usr/bin/python3 -> /usr/bin/python3.13',
    'python3.13: /usr/bin/python3.13',
  ]);
  assert.throws(() => parseDenyRules('lotl:python3.13'), usageError(/names no tool/));
});
