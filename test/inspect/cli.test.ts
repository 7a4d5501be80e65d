import assert from 'node:assert/strict';
import { symlink as fsSymlink, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type TestContext, test } from 'node:test';
import { commandCompare, commandInspect, type InspectContext } from '../../src/cli/inspect.js';
import { isDistillError } from '../../src/errors.js';
import { COMPARE_JSON_SCHEMA, FACTS_JSON_SCHEMA, FILES_JSON_SCHEMA } from '../../src/inspect/index.js';
import { writeArtifact } from '../../src/media/index.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';
import { schemaProblems } from './helpers.js';
import { distrolessImage, shellImage } from './samples.js';

interface Fixture {
  dir: string;
  shell: string;
  distroless: string;
  ctx: InspectContext;
  steps: string[];
}

async function fixture(t: TestContext): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'distill-inspect-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const shell = `oci:${join(dir, 'shell')}:1`;
  const distroless = `oci:${join(dir, 'distroless')}`;
  await writeArtifact(parseImageRef(shell), await shellImage());
  await writeArtifact(parseImageRef(distroless), await distrolessImage());
  const steps: string[] = [];
  const ctx: InspectContext = {
    store: new Store(join(dir, 'cache')),
    reporter: { step: (m) => steps.push(m), done() {} },
  };
  return { dir, shell, distroless, ctx, steps };
}

function usage(message: RegExp) {
  return (err: unknown) => isDistillError(err, 'USAGE') && message.test(err.message);
}

test('inspect --format json prints facts that conform to the schema; text is the default', async (t) => {
  const f = await fixture(t);
  const r = await commandInspect([f.shell], { format: 'json' }, f.ctx);
  assert.equal(r.exitCode, 0);
  assert.equal(r.denied, '');
  const facts = JSON.parse(r.text);
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, facts), []);
  assert.equal(facts.libc.family, 'musl');
  assert.deepEqual(f.steps, [`inspecting ${f.shell}`]);
  const text = await commandInspect([f.shell], {}, f.ctx);
  assert.match(text.text, /Shell access +sh \(busybox\)/);
});

test('inspect --deny: exit 3 with what broke each rule on stderr, 0 on a clean image', async (t) => {
  const f = await fixture(t);
  const bad = await commandInspect([f.shell], { format: 'json', deny: ['shell', 'root,lotl:curl'] }, f.ctx);
  assert.equal(bad.exitCode, 3);
  assert.deepEqual(
    bad.violations.map((v) => v.rule),
    ['shell', 'root', 'lotl:curl'],
  );
  assert.equal(
    bad.denied,
    `${f.shell} breaks --deny shell:\n  /bin/busybox\n  /bin/sh -> /bin/busybox\n` +
      `${f.shell} breaks --deny root:\n  runs as root (user unset)\n` +
      `${f.shell} breaks --deny lotl:curl:\n  curl: /usr/bin/curl\n`,
  );
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, JSON.parse(bad.text)), [], 'stdout stays pure JSON');
  const good = await commandInspect([f.distroless], { deny: 'shell,package-manager,root,size>1MB' }, f.ctx);
  assert.equal(good.exitCode, 0);
  assert.equal(good.denied, '');
  assert.deepEqual(good.violations, []);
  await assert.rejects(
    commandInspect([f.shell], { deny: 'shel' }, f.ctx),
    usage(/"shel" is not a --deny rule/),
  );
});

test('compare: json conforms to the compare schema, --deny checks every image, html goes to --output', async (t) => {
  const f = await fixture(t);
  const r = await commandCompare([f.shell, f.distroless], { format: 'json', deny: 'shell' }, f.ctx);
  const out = JSON.parse(r.text);
  assert.deepEqual(schemaProblems(COMPARE_JSON_SCHEMA, out), []);
  assert.deepEqual(out.references, [f.shell, f.distroless]);
  assert.deepEqual(out.rows.find((x: { key: string }) => x.key === 'shell').values, ['sh (busybox)', 'none']);
  assert.equal(r.exitCode, 3);
  assert.deepEqual(
    r.violations.map((v) => v.image),
    [f.shell],
  );
  const file = join(f.dir, 'report.html');
  const html = await commandCompare([f.shell, f.distroless], { format: 'html', output: file }, f.ctx);
  assert.equal(html.text, `wrote ${file}\n`);
  assert.equal(html.exitCode, 0);
  const written = await readFile(file, 'utf8');
  assert.match(written, /^<!doctype html>/);
  assert.equal(written.match(/<svg /g)?.length, 2);
  const md = await commandCompare([f.shell, f.distroless], { format: 'markdown' }, f.ctx);
  assert.match(md.text, /^\| ≠ \| Shell access \| sh \(busybox\) \| none \|$/m);
});

test('inspect --files lists the merged tree under a path, as text or json', async (t) => {
  const f = await fixture(t);
  const r = await commandInspect([f.shell], { files: '/bin' }, f.ctx);
  const lines = r.text.trimEnd().split('\n');
  assert.match(lines[0]!, /^MODE +OWNER +SIZE +LAYER +PATH$/);
  assert.deepEqual(
    lines.slice(1).map((l) => l.replace(/ +/g, ' ')),
    [
      'drwxr-xr-x 0:0 0 0 /bin',
      '-rwxr-xr-x 0:0 7 0 /bin/busybox',
      'lrwxrwxrwx 0:0 0 0 /bin/sh -> /bin/busybox',
      '-rwsr-xr-x 0:0 2 0 /bin/su',
    ],
  );
  const json = JSON.parse((await commandInspect([f.shell], { files: '/', format: 'json' }, f.ctx)).text);
  assert.deepEqual(schemaProblems(FILES_JSON_SCHEMA, json), []);
  assert.ok(
    json.files.some((x: { path: string; layer: number }) => x.path === '/usr/bin/curl' && x.layer === 1),
  );
  await assert.rejects(
    commandInspect([f.shell], { files: '/nowhere' }, f.ctx),
    (err: unknown) => isDistillError(err, 'NOT_FOUND') && /\/nowhere is not in/.test(err.message),
  );
  await assert.rejects(
    commandInspect([f.shell], { files: '/', deny: 'shell' }, f.ctx),
    usage(/run them separately/),
  );
  await assert.rejects(
    commandInspect([f.shell], { files: '/', format: 'html' }, f.ctx),
    usage(/text or json/),
  );
});

test('rootfs:PATH inspects a root filesystem directory, and lists it', async (t) => {
  const f = await fixture(t);
  const root = join(f.dir, 'rootfs');
  await mkdir(join(root, 'bin'), { recursive: true });
  await writeFile(join(root, 'bin/dash'), 'dash', { mode: 0o755 });
  await fsSymlink('dash', join(root, 'bin/sh'));
  await mkdir(join(root, 'usr/lib'), { recursive: true });
  await writeFile(join(root, 'usr/lib/libz.so.1'), 'zz');
  await fsSymlink('usr/lib', join(root, 'lib'));
  const r = await commandInspect([`rootfs:${root}`], { format: 'json', deny: 'shell' }, f.ctx);
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, JSON.parse(r.text)), []);
  assert.equal(r.exitCode, 3);
  assert.deepEqual(r.violations[0]?.what, ['/bin/dash', '/bin/sh -> /bin/dash']);
  const paths = async (under: string) =>
    (await commandInspect([`rootfs:${root}`], { files: under }, f.ctx)).text
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.replace(/^.* 0 {2}/, ''));
  assert.deepEqual(
    await paths('/lib'),
    ['/usr/lib', '/usr/lib/libz.so.1'],
    'a link to a directory is followed',
  );
  assert.deepEqual(await paths('bin/sh'), ['/bin/sh -> dash'], 'a link to a file is listed itself');
  await assert.rejects(commandInspect(['rootfs:'], {}, f.ctx), usage(/rootfs: needs a path/));
  await assert.rejects(
    commandInspect([`rootfs:${root}`], { platform: 'linux/arm64' }, f.ctx),
    usage(/--platform picks an image of an index/),
  );
});

test('usage errors: image counts and formats', async (t) => {
  const f = await fixture(t);
  await assert.rejects(commandInspect([f.shell, f.distroless], {}, f.ctx), usage(/inspect takes one image/));
  await assert.rejects(commandCompare([f.shell], {}, f.ctx), usage(/compare needs two images or more/));
  await assert.rejects(
    commandInspect([f.shell], { format: 'yaml' }, f.ctx),
    usage(/--format must be text, markdown, json, html/),
  );
  await assert.rejects(
    commandCompare([f.shell, f.distroless], { files: '/' }, f.ctx),
    usage(/--files lists one image/),
  );
  assert.deepEqual(f.steps, [], 'nothing is read before the arguments are checked');
});
