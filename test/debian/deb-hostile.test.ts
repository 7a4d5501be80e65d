import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { type ReadDebOptions, readDeb } from '../../src/debian/deb.js';
import { isDistillError } from '../../src/errors.js';
import { paxHeader, paxRecord, TAR_END, tarBlock, tarData, tarFile } from '../helpers/tar-blocks.js';
import { within } from '../layers/helpers.js';
import { arArchive, MINIMAL_CONTROL, requireComponents, tarArchive } from './helpers.js';

/**
 * Hostile .deb packages: the ar layer, the compression of each member and the tars inside are
 * read by the same readers as everything else (ar.ts, layers/compression.ts, layers/tar-reader.ts);
 * whatever is wrong is DEB_INVALID naming the package and the member, and every read ends.
 */

const controlTarGz = async (control = MINIMAL_CONTROL) =>
  gzipSync(
    await tarArchive([
      { name: './', type: 'directory' },
      { name: './control', content: control },
    ]),
  );

async function deb(data: Buffer, dataName = 'data.tar.gz', control?: Buffer): Promise<Buffer> {
  return arArchive([
    { name: 'debian-binary', data: '2.0\n' },
    { name: 'control.tar.gz', data: control ?? (await controlTarGz()) },
    { name: dataName, data },
  ]);
}

async function readEverything(bytes: Buffer, opts: ReadDebOptions = {}) {
  const paths: string[] = [];
  await within(
    20_000,
    'reading the .deb',
    readDeb(Readable.from([bytes]), {
      source: 'hostile.deb',
      computeMd5: true,
      onDataEntry: async (e, body) => {
        paths.push(e.path);
        for await (const _ of body);
      },
      ...opts,
    }),
  );
  return paths;
}

const debInvalid = (what: RegExp) => (err: unknown) => {
  assert.ok(isDistillError(err, 'DEB_INVALID'), `expected DEB_INVALID, got ${String(err)}`);
  assert.match(err.message, /^hostile\.deb: /);
  assert.match(err.message, what);
  return true;
};

test('data.tar with the tar of finding 1 (PAX size -512, then a global header) is DEB_INVALID naming the member', async () => {
  const tar = Buffer.concat([
    paxHeader(paxRecord('size', '-512')),
    paxHeader(paxRecord('comment', 'g'), 'g'),
    tarFile('./usr/x', 'x'),
    TAR_END,
  ]);
  await assert.rejects(
    readEverything(await deb(gzipSync(tar))),
    debInvalid(/data\.tar\.gz is corrupt: the PAX header at byte 0 has size=/),
  );
});

test('data.tar with negative or overflowing sizes, or a header that claims more than the member, is DEB_INVALID', async () => {
  const negative = Buffer.alloc(12, 0xff);
  negative[11] = 0xfe; // base-256 -1
  const tars = [
    Buffer.concat([tarBlock({ name: './f', size: negative }), TAR_END]),
    Buffer.concat([
      tarBlock({ name: './f', size: Buffer.from([0x80, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) }),
      TAR_END,
    ]),
    Buffer.concat([tarBlock({ name: './f', size: 100_000 }), tarData('short')]),
    Buffer.concat([tarBlock({ name: '././@LongLink', flag: 'L', size: 5_000_000 }), TAR_END]),
  ];
  for (const [i, tar] of tars.entries()) {
    await assert.rejects(
      readEverything(await deb(gzipSync(tar))),
      debInvalid(/data\.tar\.gz is (corrupt|truncated)/),
      `tar ${i}`,
    );
  }
});

test('a data.tar cut short in each compression is DEB_INVALID (truncated), not a hang', async (t) => {
  if (!requireComponents(t, 'xz', 'zstd')) return;
  const tar = await tarArchive([
    { name: './', type: 'directory' },
    { name: './usr/', type: 'directory' },
    { name: './usr/big', content: Buffer.alloc(200_000, 7) },
  ]);
  const compressed: [string, Buffer][] = [
    ['data.tar', tar],
    ['data.tar.gz', gzipSync(tar)],
    ['data.tar.xz', execFileSync('xz', ['-c'], { input: tar })],
    ['data.tar.zst', execFileSync('zstd', ['-q', '-c'], { input: tar })],
  ];
  for (const [name, bytes] of compressed) {
    assert.deepEqual(await readEverything(await deb(bytes, name)), ['usr', 'usr/big'], name);
    for (const cut of [1, 20, bytes.length >> 1, bytes.length - 1]) {
      await assert.rejects(
        readEverything(await deb(bytes.subarray(0, cut), name)),
        debInvalid(new RegExp(`${name.replace(/\./g, '\\.')} is (truncated|corrupt)`)),
        `${name} cut at ${cut}`,
      );
    }
  }
});

test('a control.tar.gz that inflates far past the control size limit stops at the limit', async () => {
  // one small control file, then 64 MiB of zeros: a few hundred KB of gzip
  const tar = Buffer.concat([tarFile('./control', MINIMAL_CONTROL), Buffer.alloc(64 * 1024 * 1024)]);
  const bomb = gzipSync(tar);
  assert.ok(bomb.length < 200_000);
  await assert.rejects(
    readEverything(
      await deb(gzipSync(await tarArchive([{ name: './', type: 'directory' }])), 'data.tar.gz', bomb),
      {
        maxControlSize: 1024 * 1024,
      },
    ),
    debInvalid(/control\.tar is larger than the limit of 1048576 bytes/),
  );
});

test('ar: sizes that are not decimal digits, and members that claim more than the archive, are DEB_INVALID', async () => {
  for (const declaredSize of ['-1', '1e3', ' 0x10', '9999999999']) {
    const bytes = arArchive([
      { name: 'debian-binary', data: '2.0\n' },
      { name: 'control.tar.gz', data: await controlTarGz(), declaredSize },
    ]);
    await assert.rejects(readEverything(bytes), debInvalid(/invalid size field|truncated/), declaredSize);
  }
  // many empty reserved members: each moves the reader on
  const many = arArchive([
    { name: 'debian-binary', data: '2.0\n' },
    ...Array.from({ length: 5000 }, () => ({ name: '_x', data: '' })),
    { name: 'control.tar.gz', data: await controlTarGz() },
    { name: 'data.tar.gz', data: gzipSync(await tarArchive([{ name: './', type: 'directory' }])) },
  ]);
  assert.deepEqual(await readEverything(many), []);
});

test('data.tar entries of GNU sparse files are refused (dpkg does not ship them)', async () => {
  const sparse = Buffer.concat([
    tarBlock({ name: './sparse', flag: 'S', size: 3, magic: 'gnu' }),
    tarData('abc'),
    TAR_END,
  ]);
  await assert.rejects(
    readEverything(await deb(gzipSync(sparse))),
    debInvalid(/"\.\/sparse" is a special file, not allowed/),
  );
});
