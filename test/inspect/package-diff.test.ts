import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { commandCompare } from '../../src/cli/inspect.js';
import { COMPARE_JSON_SCHEMA, type Facts, inspectImage } from '../../src/inspect/index.js';
import { packageDiffs, packageTypeDiffs } from '../../src/inspect/package-diff.js';
import {
  compareDocument,
  renderCompareMarkdown,
  renderCompareText,
  renderHtml,
} from '../../src/inspect/render.js';
import { writeArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import { file, imageOf, schemaProblems } from './helpers.js';

const dpkg = (pkgs: [string, string][]) =>
  file(
    'var/lib/dpkg/status',
    pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\n`).join('\n'),
  );
const npm = (dir: string, name: string, version: string) =>
  file(`${dir}/node_modules/${name}/package.json`, JSON.stringify({ name, version }));

/** A Debian image with an app, and the same a release later: a package changed, one added, one gone. */
async function pair(): Promise<[Facts, Facts]> {
  const before = await inspectImage(
    await imageOf({
      layers: [
        [
          dpkg([
            ['libc6', '2.36-9'],
            ['zlib1g', '1:1.2.13'],
            ['bash', '5.2-1'],
          ]),
          npm('app', 'express', '4.21.2'),
          npm('app', 'debug', '2.6.9'),
          npm('app/node_modules/express', 'debug', '4.4.0'),
        ],
      ],
    }),
  );
  const after = await inspectImage(
    await imageOf({
      layers: [
        [
          dpkg([
            ['libc6', '2.41-12'],
            ['bash', '5.2-1'],
            ['tzdata', '2025b'],
          ]),
          npm('app', 'express', '5.1.0'),
          npm('app', 'debug', '4.4.0'),
          npm('app', 'left-pad', '1.3.0'),
        ],
      ],
    }),
  );
  return [before, after];
}

test('package diff: added, removed and changed by name per type; versions of a name as a set', async () => {
  const [before, after] = await pair();
  const [deb, npmDiff] = packageTypeDiffs(before, after);
  assert.deepEqual(deb, {
    type: 'deb',
    added: [{ name: 'tzdata', versions: ['2025b'] }],
    removed: [{ name: 'zlib1g', versions: ['1:1.2.13'] }],
    changed: [{ name: 'libc6', from: ['2.36-9'], to: ['2.41-12'] }],
    unchanged: 1,
  });
  assert.deepEqual(npmDiff, {
    type: 'npm',
    added: [{ name: 'left-pad', versions: ['1.3.0'] }],
    removed: [],
    changed: [
      { name: 'debug', from: ['2.6.9', '4.4.0'], to: ['4.4.0'] },
      { name: 'express', from: ['4.21.2'], to: ['5.1.0'] },
    ],
    unchanged: 0,
  });
  assert.deepEqual(
    packageTypeDiffs(before, before).map((t) => [t.added, t.removed, t.changed, t.unchanged]),
    [
      [[], [], [], 3],
      [[], [], [], 2],
    ],
  );
  const empty = await inspectImage(await imageOf({ layers: [[file('x', 'y')]] }));
  assert.deepEqual(packageDiffs([empty, empty]), [{ image: 1, types: [] }]);
  assert.deepEqual(
    packageDiffs([empty, before, after]).map((d) => [d.image, d.types.map((t) => t.type)]),
    [
      [1, ['deb', 'npm']],
      [2, ['deb', 'npm']],
    ],
  );
  assert.deepEqual(packageDiffs([before]), []);
});

test('package diff in text, Markdown, HTML and JSON: by name, with counts', async () => {
  const [before, after] = await pair();
  const images = [
    { name: 'app:1', facts: before },
    { name: 'app:2', facts: after },
  ];
  const text = renderCompareText(images);
  assert.match(
    text,
    /\nPackages of app:2 against app:1:\n {2}Type +Added +Removed +Changed +The same\n {2}deb +1 +1 +1 +1\n {2}npm +1 +0 +2 +0\n/,
  );
  assert.match(text, /\n {2}deb +changed +libc6 +2\.36-9 -> 2\.41-12\n/);
  assert.match(text, /\n {2}deb +added +tzdata +2025b\n/);
  assert.match(text, /\n {2}deb +removed +zlib1g +1:1\.2\.13\n/);
  assert.match(text, /\n {2}npm +changed +debug +2\.6\.9, 4\.4\.0 -> 4\.4\.0\n/);
  const md = renderCompareMarkdown(images);
  assert.match(
    md,
    /### Packages of app:2 against app:1\n\n\| Type \| Added \| Removed \| Changed \| The same \|\n\|---\|---\|---\|---\|---\|\n\| deb \| 1 \| 1 \| 1 \| 1 \|/,
  );
  assert.match(md, /\| npm \| added \| left-pad \| 1\.3\.0 \|/);
  const html = renderHtml(images);
  assert.match(html, /<h2>Packages against app:1<\/h2>\n<h3>Packages of app:2 against app:1<\/h3>/);
  assert.match(
    html,
    /<tr><td>deb<\/td><td>changed<\/td><td>libc6<\/td><td>2\.36-9 -&gt; 2\.41-12<\/td><\/tr>/,
  );
  const doc = JSON.parse(JSON.stringify(compareDocument(images)));
  assert.deepEqual(schemaProblems(COMPARE_JSON_SCHEMA, doc), []);
  assert.equal(doc.packageDiff[0].types[0].changed[0].name, 'libc6');
  assert.doesNotMatch(renderHtml([images[0]!]), /Packages against/, 'inspect of one image has no diff');
});

test('reports list at most 100 packages per type, the JSON all of them', async () => {
  const many = Array.from({ length: 130 }, (_, i) =>
    npm('app', `pkg-${String(i).padStart(3, '0')}`, '1.0.0'),
  );
  const base = await inspectImage(await imageOf({ layers: [[file('x', 'y')]] }));
  const big = await inspectImage(await imageOf({ layers: [many] }));
  const images = [
    { name: 'base', facts: base },
    { name: 'big', facts: big },
  ];
  const text = renderCompareText(images);
  assert.equal(text.match(/\n {2}npm +added /g)?.length, 100);
  assert.match(text, /\n {2}npm +30 more +--format json lists them all\n/);
  assert.equal(compareDocument(images).packageDiff[0]!.types[0]!.added.length, 130);
});

test('distill compare --format json carries the package diff', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'distill-pkgdiff-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const refs = [`oci:${join(dir, 'a')}:1`, `oci:${join(dir, 'b')}:1`];
  await writeArtifact(parseImageRef(refs[0]!), await imageOf({ layers: [[dpkg([['libc6', '2.36-9']])]] }));
  await writeArtifact(parseImageRef(refs[1]!), await imageOf({ layers: [[dpkg([['libc6', '2.41-12']])]] }));
  const ctx = { store: new Store(join(dir, 'cache')), reporter: { done() {} } };
  const r = await commandCompare(refs, { format: 'json' }, ctx);
  const out = JSON.parse(r.text);
  assert.deepEqual(schemaProblems(COMPARE_JSON_SCHEMA, out), []);
  assert.deepEqual(out.packageDiff, [
    {
      image: 1,
      types: [
        {
          type: 'deb',
          added: [],
          removed: [],
          changed: [{ name: 'libc6', from: ['2.36-9'], to: ['2.41-12'] }],
          unchanged: 0,
        },
      ],
    },
  ]);
});
