import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { COMPARE_JSON_SCHEMA, FACTS_JSON_SCHEMA } from '../../src/inspect/index.js';
import { writeArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { distill } from '../helpers/cli.js';
import { tempDir } from '../helpers/components.js';
import { schemaProblems } from '../inspect/helpers.js';
import { distrolessImage, shellImage } from '../inspect/samples.js';

/** inspect and compare -o FILE: the format from the extension, written whole or not at all. */
describe('inspect and compare -o FILE', () => {
  let dir = '';
  let shell = '';
  let distroless = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = await tempDir('distill-report-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
    shell = `oci:${join(dir, 'shell')}:1`;
    distroless = `oci:${join(dir, 'distroless')}:1`;
    await writeArtifact(parseImageRef(shell), await shellImage());
    await writeArtifact(parseImageRef(distroless), await distrolessImage());
  });
  after(() => rm(dir, { recursive: true, force: true }));

  async function report(args: string[], file: string): Promise<string> {
    const r = await distill([...args, '-q', '-o', file], env);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `wrote ${file}\n`);
    return readFile(file, 'utf8');
  }

  test('compare -o report.html, .json, .md, .txt', async () => {
    const html = await report(['compare', shell, distroless], join(dir, 'report.html'));
    assert.match(html, /^<!doctype html>/);
    assert.equal(html.match(/<svg /g)?.length, 2);
    const json = JSON.parse(await report(['compare', shell, distroless], join(dir, 'report.json')));
    assert.deepEqual(schemaProblems(COMPARE_JSON_SCHEMA, json), []);
    assert.deepEqual(json.references, [shell, distroless]);
    const md = await report(['compare', shell, distroless], join(dir, 'report.md'));
    assert.match(md, /^\| ≠ \| Shell access \| sh \(busybox\) \| none \|$/m);
    const txt = await report(['compare', shell, distroless], join(dir, 'report.txt'));
    assert.match(txt, /^ +Fact +oci:/);
  });

  test('inspect -o facts.json and .html; --format decides for other names', async () => {
    const json = JSON.parse(await report(['inspect', shell], join(dir, 'facts.json')));
    assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, json), []);
    assert.match(await report(['inspect', shell], join(dir, 'facts.HTML')), /^<!doctype html>/);
    assert.match(
      await report(['inspect', shell, '--format', 'markdown'], join(dir, 'facts.out')),
      /^## oci:.*shell:1\n\n\| Fact \| Value \|$/m,
    );
    assert.match(
      await report(['inspect', shell], join(dir, 'facts')),
      /Shell access +sh \(busybox\)/,
      'text',
    );
    assert.match(
      await report(['inspect', shell, '--format', 'json'], join(dir, 'agree.json')),
      /^\{/,
      'a --format that agrees with the extension',
    );
    const files = JSON.parse(await report(['inspect', shell, '--files', '/bin'], join(dir, 'files.json')));
    assert.ok(files.files.some((f: { path: string }) => f.path === '/bin/busybox'));
  });

  test('a report that cannot be written leaves nothing behind, and an error naming the file', async () => {
    const target = join(dir, 'taken.html');
    await mkdir(target);
    const r = await distill(['compare', '-q', shell, distroless, '-o', target], env);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^distill: writing the report to ${target}: `));
    assert.deepEqual(
      (await readdir(dir)).filter((f) => f.includes('.tmp')),
      [],
      'no temp file left beside it',
    );
    const missing = join(dir, 'no', 'such', 'dir', 'r.json');
    const m = await distill(['inspect', '-q', shell, '-o', missing], env);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /writing the report to .*r\.json/);
  });
});
