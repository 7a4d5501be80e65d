import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { slices } from '../../src/cli/inspect.js';
import { type Facts, inspectImage } from '../../src/inspect/index.js';
import {
  jsonPieces,
  modeString,
  renderCompareMarkdown,
  renderCompareText,
  renderHtml,
  renderMarkdown,
  renderText,
} from '../../src/inspect/render.js';
import { compareRows, formatSize, shellNames } from '../../src/inspect/rows.js';
import { distrolessImage, HOSTILE_CREATED_BY, shellImage, TOKEN_VALUE } from './samples.js';

async function both(): Promise<{ shell: Facts; distroless: Facts }> {
  return {
    shell: await inspectImage(await shellImage()),
    distroless: await inspectImage(await distrolessImage()),
  };
}

test('rows: the usual comparison first, human-friendly values, differences flagged', async () => {
  const { shell, distroless } = await both();
  const rows = compareRows([shell, distroless]);
  assert.deepEqual(
    rows.slice(0, 8).map((r) => r.key),
    ['size', 'shell', 'packageManager', 'systemLibraries', 'libc', 'lotl', 'packages', 'user'],
  );
  const row = (key: string) => rows.find((r) => r.key === key)!;
  assert.deepEqual(row('shell').values, ['sh (busybox)', 'none']);
  assert.deepEqual(row('packageManager').values, ['apk', 'none']);
  assert.deepEqual(row('libc').values, ['musl', 'glibc']);
  assert.deepEqual(row('user').values, ['root (unset)', '65532']);
  assert.deepEqual(row('systemLibraries').values, ['2 apk', '1 deb']);
  assert.equal(row('shell').differs, true);
  assert.equal(row('platform').differs, false);
  assert.ok(compareRows([shell]).every((r) => !r.differs));
});

test('formatSize and shellNames', () => {
  assert.equal(formatSize(999), '999 B');
  assert.equal(formatSize(145_200_000), '145.2 MB');
  assert.equal(formatSize(2_500_000_000), '2.5 GB');
  assert.deepEqual(
    shellNames([
      { name: 'bash', path: '/usr/bin/bash', target: null, status: 'present' },
      { name: 'dash', path: '/bin/dash', target: '/usr/bin/dash', status: 'present' },
      { name: 'sh', path: '/bin/sh', target: '/usr/bin/dash', status: 'present' },
    ]),
    ['bash', 'sh (dash)'],
  );
  assert.deepEqual(modeString('dir', 0o1777), 'drwxrwxrwt');
  assert.deepEqual(modeString('file', 0o4755), '-rwsr-xr-x');
  assert.deepEqual(modeString('symlink', 0o777), 'lrwxrwxrwx');
});

test('text: summary and details, terminal escapes from the image neutralized, deterministic', async () => {
  const { shell } = await both();
  const text = renderText(shell, 'oci:shell');
  assert.match(text, /^oci:shell\n/);
  assert.match(text, /Shell access +sh \(busybox\)/);
  assert.match(text, /Setuid\/setgid files:\n.*\n {2}\/bin\/su +4755 +0:0/);
  assert.match(text, /API_TOKEN=<redacted>/);
  assert.ok(!text.includes(TOKEN_VALUE));
  assert.ok(!text.includes('\u001b'), 'a raw ESC reaches the terminal');
  assert.match(text, /RUN echo \\x1b\[31mred/);
  assert.equal(renderText(shell, 'oci:shell'), text);
});

test('markdown: tables, with what came from the image escaped', async () => {
  const { shell } = await both();
  const md = renderMarkdown(shell, 'oci:shell');
  assert.match(md, /^## oci:shell\n\n\| Fact \| Value \|\n\|---\|---\|\n\| Size \(uncompressed\) \| /);
  assert.match(md, /\| Shell access \| sh \(busybox\) \|/);
  assert.ok(!md.includes(HOSTILE_CREATED_BY));
  assert.match(md, /\| \\<script\\>alert\(1\)\\<\/script\\> \|/);
});

test('compare: text, markdown and html mark the rows that differ', async () => {
  const { shell, distroless } = await both();
  const images = [
    { name: 'alpine', facts: shell },
    { name: 'distroless', facts: distroless },
  ];
  const text = renderCompareText(images).split('\n');
  assert.match(text[0]!, /^ +Fact +alpine +distroless$/);
  assert.match(text.find((l) => l.includes('Shell access'))!, /^\* +Shell access +sh \(busybox\) +none$/);
  assert.match(text.find((l) => l.includes('Platform'))!, /^ +Platform +linux\/amd64 +linux\/amd64$/);
  const md = renderCompareMarkdown(images);
  assert.match(md, /^\| {2}\| Fact \| alpine \| distroless \|$/m);
  assert.match(md, /^\| ≠ \| Shell access \| sh \(busybox\) \| none \|$/m);
  assert.match(md, /^\| {2}\| Platform \| linux\/amd64 \| linux\/amd64 \|$/m);
  const html = renderHtml(images);
  const differing = compareRows([shell, distroless]).filter((r) => r.differs).length;
  assert.ok(differing > 0);
  assert.equal(html.match(/<tr class="differs">/g)?.length, differing);
  assert.match(html, /<tr><th>Platform<\/th><td>linux\/amd64<\/td><td>linux\/amd64<\/td><\/tr>/);
});

test('html: one self-contained file, a layer chart per image, everything from the image escaped', async () => {
  const { shell, distroless } = await both();
  const images = [
    { name: 'oci:shell"><img src=x>', facts: shell },
    { name: 'distroless', facts: distroless },
  ];
  const html = renderHtml(images);
  assert.match(html, /^<!doctype html>\n/);
  assert.match(html, /<\/html>\n$/);
  // Nothing is fetched: no URL, no resource attribute, no script; a CSP forbids loads anyway.
  assert.doesNotMatch(html, /https?:\/\//);
  assert.doesNotMatch(
    html,
    /<[^>]*\s(src|href|srcset|xlink:href)=|url\(|@import|<script|<link|<img|<iframe/i,
  );
  assert.match(
    html,
    /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">/,
  );
  assert.equal(html.match(/<svg /g)?.length, 2);
  assert.equal(html.match(/<rect class="bar"/g)?.length, shell.layers.length + distroless.layers.length);
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(html.includes('oci:shell&quot;&gt;&lt;img src=x&gt;'));
  assert.match(html, /<title>layer 0: [^<]*\n\n&lt;script&gt;alert\(1\)&lt;\/script&gt;<\/title>/);
  assert.ok(!html.includes('\u001b'));
  assert.ok(!html.includes(TOKEN_VALUE));
  // Bars share one scale: the largest layer of all images is the full width.
  const widths = [...html.matchAll(/<rect class="bar" [^>]*width="(\d+)"/g)].map((m) => Number(m[1]));
  assert.equal(Math.max(...widths), 520);
  assert.equal(renderHtml(images), html, 'deterministic');
  assert.ok(!html.includes('2030-01-01'));
  assert.match(renderHtml(images, { date: '2030-01-01' }), /<p class="note">2030-01-01<\/p>/);
});

test('jsonPieces joined is JSON.stringify(value, null, 2) and a newline, at every streaming depth', async () => {
  const { shell, distroless } = await both();
  for (const depth of [0, 1, 2, 3, 4, 6]) {
    for (const value of [shell, { images: [shell, distroless], rows: compareRows([shell, distroless]) }]) {
      assert.equal([...jsonPieces(value, depth)].join(''), `${JSON.stringify(value, null, 2)}\n`);
    }
  }
  const members = fc.oneof(fc.jsonValue(), fc.constant(undefined));
  const value = fc.letrec((tie) => ({
    node: fc.oneof(
      { depthSize: 'small' },
      members,
      fc.array(tie('node')),
      fc.dictionary(fc.string(), tie('node')),
    ),
  })).node;
  fc.assert(
    fc.property(value, fc.integer({ min: 0, max: 5 }), (v, depth) => {
      fc.pre(v !== undefined);
      assert.equal([...jsonPieces(v, depth)].join(''), `${JSON.stringify(v, null, 2)}\n`);
    }),
    { numRuns: 500 },
  );
});

test('slices: pieces joined into strings of 64 KiB at most, a surrogate pair never cut', () => {
  const pair = '\u{1F600}';
  const text = `${'a'.repeat(65535)}${pair}${'b'.repeat(70000)}${pair.repeat(40000)}`;
  for (const pieces of [[text], text.match(/[\s\S]{1,777}/gu)!, ['', text, '']]) {
    const out = [...slices(pieces)];
    assert.equal(out.join(''), text);
    for (const s of out) {
      assert.ok(s.length <= 64 * 1024);
      assert.ok(!/[\uD800-\uDBFF]$/.test(s), 'no slice ends in the first half of a pair');
    }
  }
  assert.deepEqual([...slices([])], []);
});
