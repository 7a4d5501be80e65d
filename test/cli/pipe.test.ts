import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { pack } from 'tar-stream';
import { PIPE_CLOSED_STATUS, PipeClosed, printer } from '../../src/cli/output.js';
import { isDistillError } from '../../src/errors.js';
import { writeArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { BIN } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { distrolessImage, shellImage } from '../inspect/samples.js';

/**
 * `distill ... | head -1` through a real shell pipe (bash with pipefail): the command ends with
 * the pipe's status (141 when it wrote into a closed pipe, as coreutils and git do; 0 when the
 * reader took everything it wrote) and nothing on stderr, never an EPIPE stack trace.
 */
function shell(
  script: string,
  env: NodeJS.ProcessEnv,
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('bash', ['-o', 'pipefail', '-c', script], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A root filesystem tarball with `n` files: a listing of it is megabytes, far past a pipe's buffer. */
async function bigRootfs(file: string, n: number): Promise<void> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => chunks.push(c as Buffer));
  const ended = new Promise<void>((r) => p.on('end', () => r()));
  p.entry({ name: 'srv/', type: 'directory', mode: 0o755, mtime: new Date(0) });
  for (let i = 0; i < n; i++) p.entry({ name: `srv/file-${i}.txt`, mode: 0o644, mtime: new Date(0) }, 'x');
  p.finalize();
  await ended;
  await writeFile(file, Buffer.concat(chunks));
}

describe('distill | head -1', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  const distill = (args: string) => `${q(process.execPath)} ${q(BIN)} ${args}`;
  before(async () => {
    dir = await tempDir('distill-pipe-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
    await bigRootfs(join(dir, 'root.tar'), 30_000);
    await writeArtifact(parseImageRef(`oci:${join(dir, 'shell')}:1`), await shellImage());
    await writeArtifact(parseImageRef(`oci:${join(dir, 'distroless')}:1`), await distrolessImage());
  });
  after(async () => {
    const { rm } = await import('node:fs/promises');
    await rm(dir, { recursive: true, force: true });
  });

  test('inspect --files on a big tree: status 141, the first line, nothing on stderr', (t) => {
    if (!requireComponents(t, 'bash', 'head')) return;
    const r = shell(`${distill(`inspect -q rootfs:${q(join(dir, 'root.tar'))} --files /`)} | head -1`, env);
    assert.equal(r.status, PIPE_CLOSED_STATUS, r.stderr);
    assert.match(r.stdout, /^MODE +OWNER +SIZE +LAYER +PATH\n$/);
    assert.equal(r.stderr, '');
    // JSON too, and with progress on: only the progress lines, no EPIPE, no stack.
    const json = shell(
      `${distill(`inspect rootfs:${q(join(dir, 'root.tar'))} --files / --format json`)} | head -1`,
      env,
    );
    assert.equal(json.status, PIPE_CLOSED_STATUS, json.stderr);
    assert.doesNotMatch(json.stderr, /EPIPE|Error|at .*\.(ts|js):\d+/);
    assert.match(json.stderr, /^distill: reading rootfs:/);
  });

  test('compare: the reader takes it all (status 0), or is gone before it (141); stderr empty', (t) => {
    if (!requireComponents(t, 'bash', 'head', 'true')) return;
    const refs = `oci:${q(join(dir, 'shell'))}:1 oci:${q(join(dir, 'distroless'))}:1`;
    const all = shell(`${distill(`compare -q ${refs}`)} | head -1`, env);
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, /^ +Fact +oci:.*shell:1 +oci:.*distroless:1\n$/);
    assert.equal(all.stderr, '');
    const gone = shell(`${distill(`compare -q ${refs} --format json`)} | true`, env);
    assert.equal(gone.status, PIPE_CLOSED_STATUS, gone.stderr);
    assert.equal(gone.stderr, '');
  });
});

test('printPieces stops making pieces once the reader is gone', async () => {
  let taken = 0;
  const stream = new Writable({
    write(_chunk, _enc, cb) {
      taken++;
      if (taken <= 3) cb();
      else cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
    },
  });
  stream.on('error', () => {});
  let made = 0;
  function* pieces() {
    for (let i = 0; i < 1_000_000; i++) {
      made++;
      yield `piece ${i}\n`;
    }
  }
  const out = printer(stream);
  await assert.rejects(out.printPieces(pieces()), PipeClosed);
  assert.equal(made, 4, 'one piece past the last taken, then nothing more');
  await assert.rejects(out.print('more'), PipeClosed, 'a closed stdout stays closed');
});

test('another write error on stdout (a full disk) is an IO error naming stdout, not a closed pipe', async () => {
  const stream = new Writable({
    write(_chunk, _enc, cb) {
      cb(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' }));
    },
  });
  stream.on('error', () => {});
  await assert.rejects(
    printer(stream).print('x'),
    (err: unknown) => isDistillError(err, 'IO') && /^writing to stdout: no space left/.test(err.message),
  );
});
