import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import { chmod, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  type DebDataEntry,
  type DebInfo,
  normalizeDebPath,
  type ReadDebOptions,
  readDeb,
} from '../../src/debian/deb.js';
import { isDistillError } from '../../src/errors.js';
import {
  arArchive,
  handMadeDeb,
  MINIMAL_CONTROL,
  requireComponents,
  type TarEntrySpec,
  tarArchive,
  withTempDir,
} from './helpers.js';

interface Collected {
  info: DebInfo;
  entries: DebDataEntry[];
  contents: Map<string, Buffer>;
}

async function readAll(input: Readable | Buffer, opts: ReadDebOptions = {}): Promise<Collected> {
  const entries: DebDataEntry[] = [];
  const contents = new Map<string, Buffer>();
  const stream = Buffer.isBuffer(input) ? Readable.from([input]) : input;
  const info = await readDeb(stream, {
    ...opts,
    onDataEntry: async (e, body) => {
      entries.push(e);
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c as Buffer);
      if (e.type === 'file') contents.set(e.path, Buffer.concat(parts));
      else assert.equal(Buffer.concat(parts).length, 0);
    },
  });
  return { info, entries, contents };
}

async function expectDebInvalid(
  input: Buffer | Promise<Buffer>,
  re: RegExp,
  opts: ReadDebOptions = {},
): Promise<void> {
  const buf = await input;
  await assert.rejects(readAll(buf, opts), (err: unknown) => {
    assert.ok(isDistillError(err), `expected DistillError, got ${String(err)}`);
    assert.equal(err.code, 'DEB_INVALID', err.message);
    assert.match(err.message, re);
    return true;
  });
}

const BIG = Buffer.alloc(300_000);
for (let i = 0; i < BIG.length; i++) BIG[i] = (i * 7919) % 251;

/** Builds a package tree and returns its path; md5sums made with coreutils md5sum. */
async function makeTree(dir: string): Promise<string> {
  const root = join(dir, 'pkg');
  await mkdir(join(root, 'DEBIAN'), { recursive: true });
  await mkdir(join(root, 'usr/bin'), { recursive: true });
  await mkdir(join(root, 'usr/share/doc/hello'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(
    join(root, 'DEBIAN/control'),
    'Package: hello\nVersion: 2:1.0~rc1-3+deb13u1\nArchitecture: amd64\nMaintainer: Test <t@example.org>\n' +
      'Installed-Size: 300\nDepends: libc6 (>= 2.34)\nMulti-Arch: foreign\n' +
      'Description: greets\n A test package.\n .\n Second paragraph.\n',
  );
  await writeFile(join(root, 'DEBIAN/conffiles'), '/etc/hello.conf\n');
  await writeFile(join(root, 'DEBIAN/postinst'), '#!/bin/sh\nset -e\necho installed\n');
  await chmod(join(root, 'DEBIAN/postinst'), 0o755);
  await writeFile(join(root, 'usr/bin/hello'), '#!/bin/sh\necho hello\n');
  await chmod(join(root, 'usr/bin/hello'), 0o755);
  await writeFile(join(root, 'usr/bin/su-hello'), 'setuid\n');
  await chmod(join(root, 'usr/bin/su-hello'), 0o4755);
  await writeFile(join(root, 'usr/share/doc/hello/big.bin'), BIG);
  await link(join(root, 'usr/bin/hello'), join(root, 'usr/bin/hello-again'));
  await symlink('hello', join(root, 'usr/bin/hi'));
  await symlink('/usr/share/doc/hello/big.bin', join(root, 'usr/share/doc/hello/abs-link'));
  await writeFile(join(root, 'etc/hello.conf'), 'greeting=hi\n');
  await writeFile(join(root, 'usr/share/doc/hello/empty'), '');
  const sums = execFileSync('sh', ['-c', 'find etc usr -type f | sort | xargs md5sum'], {
    cwd: root,
    encoding: 'utf8',
  });
  await writeFile(join(root, 'DEBIAN/md5sums'), sums);
  return root;
}

for (const z of ['xz', 'gzip', 'zstd', 'none'] as const) {
  test(`deb: dpkg-deb -Z${z} package round-trips control, md5sums, scripts and data entries`, async (t) => {
    if (!requireComponents(t, 'dpkg-deb', 'md5sum')) return;
    await withTempDir(async (dir) => {
      const root = await makeTree(dir);
      const deb = join(dir, `hello-${z}.deb`);
      execFileSync('dpkg-deb', ['--root-owner-group', `-Z${z}`, '--build', root, deb], { stdio: 'pipe' });
      const ext = { xz: '.xz', gzip: '.gz', zstd: '.zst', none: '' }[z];
      assert.ok(execFileSync('ar', ['t', deb], { encoding: 'utf8' }).includes(`data.tar${ext}\n`));

      // small chunks, so every member and tar header straddles chunk boundaries
      const { info, entries, contents } = await readAll(createReadStream(deb, { highWaterMark: 1000 }), {
        computeMd5: true,
        source: deb,
      });
      assert.equal(info.formatVersion, '2.0');
      assert.equal(info.controlCompression, z === 'none' ? 'none' : z);
      assert.equal(info.dataCompression, z === 'none' ? 'none' : z);
      assert.equal(info.control.get('Package'), 'hello');
      assert.equal(info.control.get('version'), '2:1.0~rc1-3+deb13u1');
      assert.equal(info.control.get('Description'), 'greets\n A test package.\n .\n Second paragraph.');
      assert.equal(info.controlText, readFileSync(join(root, 'DEBIAN/control'), 'utf8'));
      assert.deepEqual(info.conffiles, ['/etc/hello.conf']);
      assert.equal(info.scripts.postinst, '#!/bin/sh\nset -e\necho installed\n');
      assert.equal(info.scripts.preinst, undefined);
      assert.ok(info.controlFiles.has('md5sums'));

      // md5sums: the control file (made by coreutils) and our own computation agree
      const want = new Map(
        readFileSync(join(root, 'DEBIAN/md5sums'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => [l.slice(34), l.slice(0, 32)] as [string, string]),
      );
      assert.equal(want.size, 6);
      assert.deepEqual(info.md5sums, want);
      assert.deepEqual(info.dataMd5sums, want);
      assert.equal(info.md5sumsText, readFileSync(join(root, 'DEBIAN/md5sums'), 'utf8'));

      // entries: same paths as dpkg-deb lists, normalized
      const dpkgPaths = execFileSync('sh', ['-c', `dpkg-deb --fsys-tarfile "$1" | tar -t`, 'sh', deb], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .map((p) => normalizeDebPath(p))
        .filter((p): p is string => p !== undefined);
      assert.deepEqual(
        entries.map((e) => e.path),
        dpkgPaths,
      );
      assert.equal(info.dataEntries, entries.length);
      const by = new Map(entries.map((e) => [e.path, e]));
      assert.equal(by.get('usr/bin/hello')?.type, 'file');
      assert.equal(by.get('usr/bin/hello')?.mode, 0o755);
      assert.equal(by.get('usr/bin/su-hello')?.mode, 0o4755);
      assert.equal(by.get('usr/bin')?.type, 'directory');
      assert.equal(by.get('usr/bin/hi')?.type, 'symlink');
      assert.equal(by.get('usr/bin/hi')?.linkname, 'hello');
      assert.equal(by.get('usr/share/doc/hello/abs-link')?.linkname, '/usr/share/doc/hello/big.bin');
      // the hard link comes second in archive order and points at the first name
      const hl = entries.filter((e) => e.path === 'usr/bin/hello' || e.path === 'usr/bin/hello-again');
      assert.equal(hl[1]?.type, 'link');
      assert.equal(hl[1]?.linkname, hl[0]?.path);
      assert.equal(by.get('usr/bin/hello')?.uid ?? by.get('usr/bin/hello-again')?.uid, 0);
      assert.ok(contents.get('usr/share/doc/hello/big.bin')?.equals(BIG));
      assert.equal(contents.get('etc/hello.conf')?.toString(), 'greeting=hi\n');
      assert.equal(contents.get('usr/share/doc/hello/empty')?.length, 0);
    });
  });
}

test('deb: bodies left unread by the callback are drained, and data can be skipped entirely', async (t) => {
  if (!requireComponents(t, 'dpkg-deb', 'md5sum')) return;
  await withTempDir(async (dir) => {
    const root = await makeTree(dir);
    const deb = join(dir, 'hello.deb');
    execFileSync('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, deb], { stdio: 'pipe' });
    const seen: string[] = [];
    const info = await readDeb(createReadStream(deb), { onDataEntry: (e) => void seen.push(e.path) });
    assert.equal(seen.length, info.dataEntries);
    assert.ok(seen.includes('usr/share/doc/hello/big.bin'));
    // md5 still computed when the callback ignores the body
    const info2 = await readDeb(createReadStream(deb), { computeMd5: true, onDataEntry: () => {} });
    assert.deepEqual(info2.dataMd5sums, info2.md5sums);
    // no callback: data member is skipped unparsed
    const info3 = await readDeb(createReadStream(deb));
    assert.equal(info3.dataEntries, undefined);
    assert.equal(info3.control.get('Package'), 'hello');
  });
});

test('deb: an error thrown by the data callback propagates unchanged', async () => {
  const deb = await handMadeDeb({
    data: [
      { name: './usr/', type: 'directory' },
      { name: './usr/x', content: 'x' },
    ],
  });
  const boom = new Error('consumer failed');
  await assert.rejects(
    readDeb(Readable.from([deb]), {
      onDataEntry: (e) => {
        if (e.path === 'usr/x') throw boom;
      },
    }),
    (err) => err === boom,
  );
});

test('deb: hand-made package with GNU-style member names and a reserved _member is read', async () => {
  const control = gzipSync(
    await tarArchive([
      { name: './', type: 'directory' },
      { name: './control', content: MINIMAL_CONTROL },
    ]),
  );
  const data = await tarArchive([
    { name: './', type: 'directory' },
    { name: './usr//lib/./x', content: 'abc' },
  ]);
  const deb = arArchive(
    [
      { name: 'debian-binary', data: '2.0\n' },
      { name: '_gpgbuilder', data: 'sig' },
      { name: 'control.tar.gz', data: control },
      { name: 'data.tar', data },
    ],
    { gnuNames: true },
  );
  const { info, entries, contents } = await readAll(deb, { computeMd5: true });
  assert.equal(info.control.get('Package'), 'hello');
  assert.equal(info.md5sums, undefined);
  assert.deepEqual(
    entries.map((e) => e.path),
    ['usr/lib/x'],
  );
  assert.equal(contents.get('usr/lib/x')?.toString(), 'abc');
  assert.deepEqual(info.dataMd5sums, new Map([['usr/lib/x', '900150983cd24fb0d6963f7d28e17f72']]));
});

// ---- hostile inputs ----

test('deb: wrong magic is DEB_INVALID', async () => {
  await expectDebInvalid(Buffer.from('PK\x03\x04 not an ar archive at all'), /no "!<arch>" ar magic/);
  await expectDebInvalid(Buffer.alloc(0), /ar magic/);
});

test('deb: truncated ar member is DEB_INVALID', async () => {
  const deb = await handMadeDeb({ data: [{ name: './big', content: BIG }] });
  for (const cut of [deb.length - 1000, 8 + 30, 8 + 60 + 2, Math.floor(deb.length / 2)]) {
    await expectDebInvalid(deb.subarray(0, cut), /truncated/);
  }
});

test('deb: member size beyond the end of the archive is DEB_INVALID', async () => {
  const control = gzipSync(await tarArchive([{ name: './control', content: MINIMAL_CONTROL }]));
  const deb = arArchive([
    { name: 'debian-binary', data: '2.0\n' },
    { name: 'control.tar.gz', data: control },
    { name: 'data.tar.gz', data: gzipSync(Buffer.alloc(1024)), declaredSize: '999999999' },
  ]);
  await expectDebInvalid(deb, /truncated.*data\.tar\.gz \(999999999 bytes declared\)/);
});

test('deb: corrupt ar header fields are DEB_INVALID', async () => {
  const good = await handMadeDeb({});
  const badSize = Buffer.from(good);
  badSize.write('12a       ', 8 + 48, 'latin1');
  await expectDebInvalid(badSize, /invalid size field/);
  const badFmag = Buffer.from(good);
  badFmag.write('xx', 8 + 58, 'latin1');
  await expectDebInvalid(badFmag, /bad terminator/);
});

test('deb: member order and format version are enforced', async () => {
  await expectDebInvalid(
    arArchive([{ name: 'control.tar.gz', data: 'x' }]),
    /first member is "control\.tar\.gz"/,
  );
  await expectDebInvalid(
    arArchive([{ name: 'debian-binary', data: '3.0\n' }]),
    /unsupported package format version "3\.0"/,
  );
  await expectDebInvalid(arArchive([{ name: 'debian-binary', data: '2.0\n' }]), /no control\.tar member/);
  await expectDebInvalid(
    arArchive([
      { name: 'debian-binary', data: '2.0\n' },
      { name: 'data.tar.gz', data: 'x' },
    ]),
    /expected control\.tar member, found "data\.tar\.gz"/,
  );
  await expectDebInvalid(arArchive([{ name: '//', data: 'x' }]), /long-name form/);
});

test('deb: bzip2 data member is rejected with a clear error', async () => {
  await expectDebInvalid(
    handMadeDeb({ dataMemberName: 'data.tar.bz2', dataBytes: Buffer.from('BZh91AY&SY') }),
    /bzip2 compression is not supported/,
  );
  await expectDebInvalid(
    handMadeDeb({ dataMemberName: 'data.tar.lz4', dataBytes: Buffer.from('x') }),
    /unknown data\.tar member/,
  );
});

test('deb: corrupt compressed data is DEB_INVALID', async () => {
  await expectDebInvalid(
    handMadeDeb({ dataBytes: Buffer.from('\x1f\x8b\x08\x00garbage-garbage-garbage') }),
    /data\.tar\.gz/,
  );
  await expectDebInvalid(
    handMadeDeb({ dataMemberName: 'data.tar.xz', dataBytes: Buffer.from('\xfd7zXZ\x00garbage') }),
    /data\.tar\.xz/,
  );
  await expectDebInvalid(
    handMadeDeb({ dataMemberName: 'data.tar.zst', dataBytes: Buffer.from('(\xb5/\xfdgarbage') }),
    /data\.tar\.zst/,
  );
  await expectDebInvalid(
    handMadeDeb({ dataMemberName: 'data.tar', dataBytes: Buffer.alloc(700, 0x41) }),
    /data\.tar/,
  );
});

const traversal: [string, TarEntrySpec[], RegExp][] = [
  ['../ escape', [{ name: '../etc/passwd', content: 'x' }], /"\.\.\/etc\/passwd" escapes/],
  ['./../ escape', [{ name: './../../x', content: 'x' }], /escapes/],
  ['inner .. escape', [{ name: './usr/../../x', content: 'x' }], /"\.\/usr\/\.\.\/\.\.\/x" escapes/],
  ['absolute path', [{ name: '/etc/passwd', content: 'x' }], /"\/etc\/passwd" has an absolute path/],
  ['hard link outside', [{ name: './x', type: 'link', linkname: '../../etc/shadow' }], /escapes/],
  [
    'hard link to a missing entry',
    [{ name: './x', type: 'link', linkname: './nope' }],
    /hard link "x" points to "\.\/nope"/,
  ],
  [
    'entry below a symlink',
    [
      { name: './usr/', type: 'directory' },
      { name: './usr/evil', type: 'symlink', linkname: '/etc' },
      { name: './usr/evil/passwd', content: 'root::0:0::/:/bin/sh\n' },
    ],
    /"usr\/evil\/passwd" lies below the symlink "usr\/evil"/,
  ],
  ['device node', [{ name: './dev/sda', type: 'character-device' }], /character-device, not allowed/],
  ['fifo', [{ name: './run/fifo', type: 'fifo' }], /fifo, not allowed/],
  [
    'duplicate path',
    [
      { name: './etc/x', content: 'a' },
      { name: 'etc/x', content: 'b' },
    ],
    /"etc\/x" twice/,
  ],
];

for (const [what, data, re] of traversal) {
  test(`deb: data.tar ${what} is DEB_INVALID naming the path`, async () => {
    await expectDebInvalid(handMadeDeb({ data }), re);
  });
}

test('deb: a huge control field is DEB_INVALID, not a crash', async () => {
  const control = `Package: hello\nVersion: 1\nArchitecture: all\nDescription: ${'A'.repeat(17 * 1024 * 1024)}\n`;
  await assert.rejects(readAll(await handMadeDeb({ control })), (err: unknown) => {
    assert.ok(isDistillError(err, 'DEB_INVALID'));
    assert.match(err.message, /control file: .*limit of 16777216/);
    assert.ok(isDistillError(err.cause, 'DEB822_INVALID'));
    return true;
  });
  // and the control member as a whole is capped
  await expectDebInvalid(
    handMadeDeb({ control: MINIMAL_CONTROL }),
    /control\.tar is larger than the limit of 10 bytes/,
    {
      maxControlSize: 10,
    },
  );
});

test('deb: invalid control files are DEB_INVALID', async () => {
  await expectDebInvalid(handMadeDeb({ control: 'Package: hello\nVersion 1\n' }), /control file: .*line 2/);
  await expectDebInvalid(
    handMadeDeb({ control: 'Package: Hello_World\nVersion: 1\nArchitecture: all\n' }),
    /invalid package name/,
  );
  await expectDebInvalid(
    handMadeDeb({ control: 'Package: hello\nVersion: x1\nArchitecture: all\n' }),
    /must start with a digit/,
  );
  await expectDebInvalid(handMadeDeb({ control: 'Package: hello\nVersion: 1\n' }), /no Architecture field/);
  await expectDebInvalid(
    handMadeDeb({ controlEntries: [{ name: './md5sums', content: '' }] }),
    /control\.tar has no control file/,
  );
  await expectDebInvalid(
    handMadeDeb({
      controlEntries: [
        { name: './control', content: MINIMAL_CONTROL },
        { name: './postinst', type: 'symlink', linkname: '/etc/shadow' },
      ],
    }),
    /control\.tar entry "\.\/postinst" is not a regular file/,
  );
  await expectDebInvalid(
    handMadeDeb({
      controlEntries: [
        { name: './control', content: MINIMAL_CONTROL },
        { name: './md5sums', content: 'not-a-sum  usr/x\n' },
      ],
    }),
    /md5sums line 1 is malformed/,
  );
});

test('deb: normalizeDebPath', () => {
  assert.equal(normalizeDebPath('./usr/bin/x'), 'usr/bin/x');
  assert.equal(normalizeDebPath('usr/bin/'), 'usr/bin');
  assert.equal(normalizeDebPath('./'), undefined);
  assert.equal(normalizeDebPath('.'), undefined);
  assert.equal(normalizeDebPath('a/./b//c'), 'a/b/c');
  assert.equal(normalizeDebPath('a/..b/c..'), 'a/..b/c..');
  assert.throws(
    () => normalizeDebPath('a/../b'),
    (e: unknown) => isDistillError(e, 'DEB_INVALID'),
  );
  assert.throws(() => normalizeDebPath('a\0b'), /NUL/);
});

test('deb: a callback that reads part of a body and destroys it still gets the following entries', async () => {
  const deb = await handMadeDeb({
    data: [
      { name: './big', content: BIG },
      { name: './after', content: 'after' },
    ],
  });
  const seen: string[] = [];
  let after = '';
  const info = await readDeb(Readable.from([deb]), {
    computeMd5: true,
    onDataEntry: async (e, body) => {
      seen.push(e.path);
      if (e.path === 'big') {
        for await (const _ of body) break; // reads one chunk, then destroys the iterator
      } else {
        for await (const c of body) after += c.toString();
      }
    },
  });
  assert.deepEqual(seen, ['big', 'after']);
  assert.equal(after, 'after');
  assert.equal(info.dataEntries, 2);
});

test('deb: an error of the input stream is passed through unchanged, not called DEB_INVALID', async () => {
  const gz = await handMadeDeb({ data: [{ name: './big', content: BIG }] });
  for (const cut of [4, 200, gz.length - 5000]) {
    const ioError = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    async function* failing() {
      yield gz.subarray(0, cut);
      throw ioError;
    }
    await assert.rejects(readDeb(failing(), { onDataEntry: () => {} }), (err) => err === ioError);
  }
});
