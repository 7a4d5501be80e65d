import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { isDistillError } from '../../src/errors.js';
import { TarFileSource } from '../../src/media/files.js';
import { DirectorySource } from '../../src/media/layout/directory.js';
import { tempDir } from '../helpers/components.js';
import { runIsolated } from '../helpers/isolated.js';
import { paxHeader, paxRecord, TAR_END, tarBlock, tarFile } from '../helpers/tar-blocks.js';
import { within } from '../layers/helpers.js';

/**
 * Hostile oci-archive: and docker-archive: files, named after the finding they reproduce (issue
 * 13), each opened in a child process that is killed at a deadline: a hang must fail the test,
 * not the test run.
 */

async function openInChild(transport: 'oci-archive' | 'docker-archive', file: string) {
  const script = `
    import { openArtifact } from './src/media/index.ts';
    try {
      await openArtifact({ transport: ${JSON.stringify(transport)}, path: ${JSON.stringify(file)} });
      console.log(JSON.stringify({ ok: true }));
    } catch (err) {
      console.log(JSON.stringify({ name: err?.name, code: err?.code, message: String(err?.message) }));
    }`;
  return runIsolated(script, 30_000);
}

async function archiveFile(t: import('node:test').TestContext, bytes: Buffer): Promise<string> {
  const dir = await tempDir('distill-hostile-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'hostile.tar');
  await writeFile(file, bytes);
  return file;
}

/** Finding 1's two forms: a PAX size of -512, then a global header (a hang) or a second PAX header (a RangeError). */
const FINDING_1 = [
  ['then a PAX global header', 'an endless loop', paxHeader(paxRecord('comment', 'global'), 'g')],
  ['then another PAX header', 'a RangeError', paxHeader(paxRecord('path', 'index.json'), 'x')],
] as const;

for (const transport of ['oci-archive', 'docker-archive'] as const) {
  for (const [after, before, second] of FINDING_1) {
    test(`finding 1 (${transport}): a PAX size of -512 ${after} is ARCHIVE_INVALID, not ${before}`, async (t) => {
      const tar = Buffer.concat([
        paxHeader(paxRecord('size', '-512'), 'x'),
        second,
        tarFile('index.json', '{}'),
        TAR_END,
      ]);
      const r = await openInChild(transport, await archiveFile(t, tar));
      assert.equal(r.timedOut, false, `opening the archive hung (killed after 30 s); stderr: ${r.stderr}`);
      assert.equal((r.value as { code?: string }).code, 'ARCHIVE_INVALID', JSON.stringify(r.value));
      assert.match((r.value as { message: string }).message, /has size="-512", not a byte count/);
    });
  }
}

/** An OCI archive with the given members before index.json and oci-layout (which name no image). */
function ociArchive(...members: Buffer[]): Buffer {
  return Buffer.concat([
    ...members,
    tarFile('oci-layout', '{"imageLayoutVersion":"1.0.0"}'),
    tarFile('index.json', '{"schemaVersion":2,"manifests":[]}'),
    TAR_END,
  ]);
}

const code = (c: string) => (err: unknown) => {
  assert.ok(isDistillError(err, c as never), `expected ${c}, got ${String(err)}`);
  return true;
};

test('an archive that is a FIFO, a directory or a device is ARCHIVE_INVALID, not a read that waits forever', async (t) => {
  const dir = await tempDir('distill-hostile-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const fifo = join(dir, 'fifo.tar');
  execFileSync('mkfifo', [fifo]);
  for (const path of [fifo, dir, '/dev/zero']) {
    await assert.rejects(
      within(10_000, `opening ${path}`, TarFileSource.open(path, `archive ${path}`)),
      (e: unknown) => code('ARCHIVE_INVALID')(e) && /not an archive file/.test((e as Error).message),
    );
  }
});

test('a layout whose blobs are FIFOs or directories is NOT_REGULAR_FILE, naming the file', async (t) => {
  const dir = await tempDir('distill-hostile-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'blobs', 'sha256', 'd'), { recursive: true });
  execFileSync('mkfifo', [join(dir, 'blobs', 'sha256', 'f')]);
  const files = new DirectorySource(dir, 'OCI layout x');
  for (const name of ['blobs/sha256/f', 'blobs/sha256/d']) {
    // Something is there: reading it says what it is, rather than that the blob is missing.
    assert.equal(await files.exists(name), true);
    // Each operation starts only when its rejection handler is attached: a promise that rejects
    // while the test awaits another would be an unhandled rejection that fails the test.
    const ops: (() => Promise<unknown>)[] = [
      () => files.open(name),
      () => files.read(name),
      () => files.size(name),
    ];
    for (const op of ops) {
      await assert.rejects(within(10_000, name, op()), (e: unknown) => {
        code('NOT_REGULAR_FILE')(e);
        assert.match(
          (e as Error).message,
          new RegExp(`${name} is a (named pipe \\(FIFO\\)|directory), not a regular file`),
        );
        return true;
      });
    }
  }
});

test('archive members: links to regular members are followed, loops and special members are refused', async (t) => {
  const file = await archiveFile(
    t,
    ociArchive(
      tarFile('blobs/sha256/aa', 'layer bytes'),
      tarBlock({ name: 'legacy/layer.tar', flag: '2', linkname: '../blobs/sha256/aa' }),
      tarBlock({ name: 'hard', flag: '1', linkname: './blobs/sha256/aa' }),
      tarBlock({ name: 'loop1', flag: '2', linkname: 'loop2' }),
      tarBlock({ name: 'loop2', flag: '2', linkname: 'loop1' }),
      tarBlock({ name: 'out', flag: '2', linkname: '../../etc/passwd' }),
      tarBlock({ name: 'fifo', flag: '6' }),
      tarBlock({ name: 'dir/', flag: '5' }),
    ),
  );
  const files = await TarFileSource.open(file, 'OCI archive a');
  assert.equal((await files.read('legacy/layer.tar')).toString(), 'layer bytes');
  assert.equal((await files.read('hard')).toString(), 'layer bytes');
  assert.equal(await files.size('legacy/layer.tar'), 11);
  await assert.rejects(
    files.read('loop1'),
    (e: unknown) => code('ARCHIVE_INVALID')(e) && /loop of links/.test(String(e)),
  );
  await assert.rejects(
    files.open('out'),
    (e: unknown) => code('ARCHIVE_INVALID')(e) && /outside the archive/.test(String(e)),
  );
  await assert.rejects(
    files.open('fifo'),
    (e: unknown) => code('ARCHIVE_INVALID')(e) && /fifo member, not a regular file/.test(String(e)),
  );
  await assert.rejects(
    files.read('dir'),
    (e: unknown) => code('ARCHIVE_INVALID')(e) && /directory member/.test(String(e)),
  );
  assert.equal(await files.exists('loop1'), false);
  await assert.rejects(files.read('nothing'), code('BLOB_MISSING'));
});

test('an archive member that runs past the end of the file, or no end-of-archive marker, is ARCHIVE_TRUNCATED', async (t) => {
  const whole = ociArchive(tarFile('blobs/sha256/aa', 'x'.repeat(5000)));
  for (const cut of [600, 512 + 4096, whole.length - 1024]) {
    const file = await archiveFile(t, whole.subarray(0, cut));
    await assert.rejects(
      TarFileSource.open(file, 'OCI archive a'),
      code('ARCHIVE_TRUNCATED'),
      `cut at ${cut}`,
    );
  }
  const empty = await archiveFile(t, Buffer.alloc(0));
  await assert.rejects(TarFileSource.open(empty, 'OCI archive e'), code('ARCHIVE_INVALID'));
  const gz = await archiveFile(t, gzipSync(whole));
  await assert.rejects(
    TarFileSource.open(gz, 'OCI archive g'),
    (e: unknown) =>
      code('ARCHIVE_INVALID')(e) && /is compressed \(gzip\); .* decompress it first/.test(String(e)),
  );
});

test('a member path that leaves the archive is ARCHIVE_INVALID', async (t) => {
  const file = await archiveFile(t, ociArchive(tarFile('../evil', 'x')));
  await assert.rejects(
    TarFileSource.open(file, 'OCI archive a'),
    (e: unknown) => code('ARCHIVE_INVALID')(e) && /leaves the archive/.test(String(e)),
  );
});

test('a layout blob that links outside the layout is LAYOUT_INVALID (a link to /proc/kmsg read forever)', async (t) => {
  const dir = await tempDir('distill-hostile-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  await writeFile(join(dir, 'blobs', 'sha256', 'real'), 'inside');
  await symlink('real', join(dir, 'blobs', 'sha256', 'inside'));
  await symlink('/proc/kmsg', join(dir, 'blobs', 'sha256', 'kmsg'));
  await symlink('/etc/hostname', join(dir, 'blobs', 'sha256', 'hostname'));
  const files = new DirectorySource(dir, 'OCI layout x');
  assert.equal((await files.read('blobs/sha256/inside')).toString(), 'inside');
  await assert.rejects(
    files.open('blobs/sha256/hostname'),
    (e: unknown) =>
      code('LAYOUT_INVALID')(e) && /links to \/etc\/hostname, outside the layout/.test(String(e)),
  );
  // /proc/kmsg is a "regular file" of size 0 whose read waits for kernel messages: in a child
  // process, so that a regression cannot hang the test run.
  const r = await runIsolated(
    `import { DirectorySource } from './src/media/layout/directory.ts';
     const files = new DirectorySource(${JSON.stringify(dir)}, 'OCI layout x');
     try { const s = await files.open('blobs/sha256/kmsg'); for await (const _ of s); console.log(JSON.stringify({ ok: true })); }
     catch (err) { console.log(JSON.stringify({ code: err.code, message: err.message })); }`,
    20_000,
  );
  assert.equal(r.timedOut, false, 'reading the blob hung');
  assert.equal((r.value as { code?: string }).code, 'LAYOUT_INVALID', JSON.stringify(r.value));
});
