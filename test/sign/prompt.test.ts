import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { readPrivateKey } from '../../src/sign/index.js';
import { BIN } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { memoryImage } from '../helpers/images.js';

/**
 * The password prompt needs a terminal: python3's pty module gives distill one, answers each
 * prompt with the next line of ANSWERS, and returns everything the terminal showed.
 */
const DRIVER = `
import os, pty, sys, json
answers = json.loads(os.environ['ANSWERS'])
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
seen = b''
while True:
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    seen += chunk
    if answers and seen.rstrip().endswith(b':'):
        os.write(fd, answers.pop(0).encode() + b'\\r')
        seen += b'<answered>'
_, status = os.waitpid(pid, 0)
sys.stdout.write(seen.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`;

function onTerminal(args: string[], answers: string[], env: NodeJS.ProcessEnv) {
  const e: NodeJS.ProcessEnv = { ...process.env, ...env, ANSWERS: JSON.stringify(answers) };
  delete e.COSIGN_PASSWORD;
  const r = spawnSync('python3', ['-c', DRIVER, process.execPath, BIN, ...args], {
    encoding: 'utf8',
    env: e,
    timeout: 60_000,
  });
  return { code: r.status, screen: r.stdout };
}

describe('the password prompt on a terminal', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = await tempDir('distill-prompt-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
    await writeArtifact(parseImageRef(`oci:${join(dir, 'layout')}:app`), await memoryImage({ layers: 1 }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('--generate-key asks twice without echo; sign asks once; a mismatch writes nothing', async (t) => {
    if (!requireComponents(t, 'python3')) return;
    const prefix = join(dir, 'tty');
    const g = onTerminal(['sign', '--generate-key', prefix], ['s3cret word', 's3cret word'], env);
    assert.equal(g.code, 0, g.screen);
    assert.match(g.screen, /Password for the new private key:/);
    assert.match(g.screen, /Again:/);
    assert.doesNotMatch(g.screen, /s3cret/);
    await readPrivateKey(`${prefix}.key`, async () => 's3cret word');
    assert.match(await readFile(`${prefix}.key`, 'utf8'), /ENCRYPTED SIGSTORE PRIVATE KEY/);

    const s = onTerminal(
      ['sign', `oci:${join(dir, 'layout')}:app`, '--key', `${prefix}.key`],
      ['s3cret word'],
      env,
    );
    assert.equal(s.code, 0, s.screen);
    assert.match(s.screen, /Password for the private key:/);
    assert.match(s.screen, /signed oci:/);
    assert.doesNotMatch(s.screen, /s3cret/);

    const m = onTerminal(['sign', '--generate-key', join(dir, 'other')], ['one', 'two'], env);
    assert.notEqual(m.code, 0, m.screen);
    assert.match(m.screen, /the two passwords differ/);
    await assert.rejects(readFile(join(dir, 'other.key')), { code: 'ENOENT' });
  });
});
