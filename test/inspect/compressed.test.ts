import assert from 'node:assert/strict';
import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { commandInspect } from '../../src/cli/inspect.js';
import { isDistillError } from '../../src/errors.js';
import { checkDeny, parseDenyRules } from '../../src/inspect/deny.js';
import { FACTS_JSON_SCHEMA, inspectImage, inspectRootfs } from '../../src/inspect/index.js';
import { renderCompareText, renderHtml, renderMarkdown, renderText } from '../../src/inspect/render.js';
import { compareRows } from '../../src/inspect/rows.js';
import { writeArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import { file, imageOf, schemaProblems, tarOf } from './helpers.js';

/**
 * A layer stored as a plain tar (what a docker-daemon: image gives, an uncompressed OCI layer, a
 * root filesystem) has no compressed size: it is reported unknown, never as the tar's size under
 * the name "compressed", and `--deny compressed-size>` on it is an error, not a pass or a fail.
 */
const layers = [[file('etc/os-release', 'ID=debian\n'), file('big', 'x'.repeat(20_000))], [file('app', 'a')]];

async function tempDir(t: TestContext): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'distill-compressed-'));
  t.after(() => rm(d, { recursive: true, force: true }));
  return d;
}

function factUnknown(image: RegExp) {
  return (err: unknown) => {
    assert.ok(isDistillError(err, 'FACT_UNKNOWN'), String(err));
    assert.match(err.message, image);
    assert.match(err.message, /stored uncompressed.*compressed size is unknown/);
    return true;
  };
}

test('uncompressed layers: compressed sizes are null in the facts and "unknown" in every report', async () => {
  const f = await inspectImage(await imageOf({ layers, gzip: false }));
  assert.deepEqual(
    f.layers.map((l) => l.compressed),
    [null, null],
  );
  assert.equal(f.size.compressed, null);
  assert.ok(f.size.uncompressed > 20_000, 'the uncompressed size is still known');
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, f), []);
  const row = compareRows([f]).find((r) => r.key === 'compressedSize')!;
  assert.equal(row.values[0], 'unknown (layers stored uncompressed)');
  const text = renderText(f, 'daemon');
  assert.match(text, /Size \(compressed\) +unknown \(layers stored uncompressed\)/);
  assert.match(text, /\n {2}0 {2}unknown {5}\d+\.\d KB/, 'the layer table says unknown');
  assert.match(
    renderMarkdown(f, 'daemon'),
    /\| Size \(compressed\) \| unknown \(layers stored uncompressed\) \|/,
  );
  const html = renderHtml([{ name: 'daemon', facts: f }]);
  assert.match(html, /<td>unknown \(layers stored uncompressed\)<\/td>/);
  assert.match(html, /compressed size unknown \(stored uncompressed\)/);
  for (const report of [text, renderMarkdown(f, 'd'), html]) {
    assert.doesNotMatch(report, new RegExp(`${(f.size.uncompressed / 1000).toFixed(1)} KB compressed`));
  }
});

test('one uncompressed layer among gzip ones: that layer unknown, the total unknown, the count said', async () => {
  const image = await imageOf({ layers, gzip: [true, false] });
  const f = await inspectImage(image);
  assert.equal(f.layers[0]!.compressed, image.layers[0]!.descriptor.size);
  assert.equal(f.layers[1]!.compressed, null);
  assert.equal(f.size.compressed, null);
  const gz = await inspectImage(await imageOf({ layers }));
  const text = renderCompareText([
    { name: 'mixed', facts: f },
    { name: 'gzip', facts: gz },
  ]);
  assert.match(
    text,
    /\* +Size \(compressed\) +unknown \(1 of 2 layers stored uncompressed\) +\d+(\.\d)? (B|KB)/,
  );
});

test('--deny compressed-size> on uncompressed layers is FACT_UNKNOWN naming the image; size> still works', async () => {
  const f = await inspectImage(await imageOf({ layers, gzip: [true, false] }));
  assert.throws(
    () => checkDeny(f, parseDenyRules('compressed-size>1KB'), 'docker-daemon:app:1'),
    factUnknown(/^--deny compressed-size>1KB cannot be checked on docker-daemon:app:1: its layers 1 are/),
  );
  assert.equal(checkDeny(f, parseDenyRules('size>1KB'), 'docker-daemon:app:1').length, 1);
  const gz = await inspectImage(await imageOf({ layers }));
  assert.equal(checkDeny(gz, parseDenyRules('compressed-size>1KB'), 'x').length, 0);
  assert.equal(checkDeny(gz, parseDenyRules('compressed-size>10B'), 'x').length, 1);
});

test('root filesystems: a directory and a plain tarball have no compressed size, a gzip tarball has', async (t) => {
  const d = await tempDir(t);
  const root = join(d, 'root');
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/os-release'), 'ID=debian\n');
  const tar = await tarOf(layers[0]!);
  await writeFile(join(d, 'plain.tar'), tar);
  const gz = gzipSync(tar);
  await writeFile(join(d, 'root.tar.gz'), gz);
  assert.equal((await inspectRootfs(root)).size.compressed, null);
  const plain = await inspectRootfs(join(d, 'plain.tar'));
  assert.deepEqual([plain.layers[0]!.compressed, plain.layers[0]!.uncompressed], [null, tar.length]);
  const zipped = await inspectRootfs(join(d, 'root.tar.gz'));
  assert.deepEqual([zipped.layers[0]!.compressed, zipped.size.compressed], [gz.length, gz.length]);
});

test('distill inspect --deny compressed-size> on an uncompressed input fails before any report is written', async (t) => {
  const d = await tempDir(t);
  const ref = `oci:${join(d, 'layout')}:1`;
  await writeArtifact(parseImageRef(ref), await imageOf({ layers, gzip: false }));
  const ctx = { store: new Store(join(d, 'cache')), reporter: { done() {} } };
  const out = join(d, 'report.json');
  await assert.rejects(
    commandInspect([ref], { format: 'json', deny: 'compressed-size>1MB', output: out }, ctx),
    factUnknown(/cannot be checked on oci:.*layout:1: its layers are stored uncompressed/),
  );
  await assert.rejects(access(out), 'no report was written');
  await assert.rejects(
    commandInspect([`rootfs:${d}`], { deny: 'shell,compressed-size>1MB' }, ctx),
    factUnknown(/on rootfs:/),
  );
  const ok = await commandInspect([ref], { deny: 'size>1MB' }, ctx);
  assert.equal(ok.exitCode, 0);
});
