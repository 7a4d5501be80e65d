import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { tempDir } from '../helpers/components.js';
import { runIsolated } from '../helpers/isolated.js';
import { paxHeader, paxRecord, TAR_END, tarFile } from '../helpers/tar-blocks.js';

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

for (const transport of ['oci-archive', 'docker-archive'] as const) {
  test(`finding 1 (${transport}): a PAX size of -512 then a PAX global header is ARCHIVE_INVALID, not an endless loop`, async (t) => {
    const file = await archiveFile(
      t,
      Buffer.concat([
        paxHeader(paxRecord('size', '-512'), 'x'),
        paxHeader(paxRecord('comment', 'global'), 'g'),
        tarFile('index.json', '{}'),
        TAR_END,
      ]),
    );
    const r = await openInChild(transport, file);
    assert.equal(r.timedOut, false, `opening the archive hung (killed after 30 s); stderr: ${r.stderr}`);
    assert.equal((r.value as { code?: string }).code, 'ARCHIVE_INVALID', JSON.stringify(r.value));
    assert.match((r.value as { message: string }).message, /size/);
  });

  test(`finding 1 (${transport}): a PAX size of -512 then another PAX header is ARCHIVE_INVALID, not a RangeError`, async (t) => {
    const file = await archiveFile(
      t,
      Buffer.concat([
        paxHeader(paxRecord('size', '-512'), 'x'),
        paxHeader(paxRecord('path', 'index.json'), 'x'),
        tarFile('index.json', '{}'),
        TAR_END,
      ]),
    );
    const r = await openInChild(transport, file);
    assert.equal(r.timedOut, false, `opening the archive hung (killed after 30 s); stderr: ${r.stderr}`);
    assert.equal((r.value as { code?: string }).code, 'ARCHIVE_INVALID', JSON.stringify(r.value));
  });
}
