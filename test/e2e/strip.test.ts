import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { distill } from '../helpers/cli.js';
import { DOCKER, requireComponents, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * The official Node binary, stripped by distill (build/app/elf-strip.ts), in the real Docker
 * engine: `distill base nodejs24` (stripped by default) and the same with `--no-strip`. What a
 * user does with Node behaves the same in both: the version, a diagnostic report, an uncaught
 * error's stack trace, a CPU profile, time zones through the built-in ICU. The binary loses the
 * sections GNU `strip -s` takes from the same file.
 */
const TAG = `t${process.pid}`;

/** Run inside the image by its own node; prints one JSON line of what it saw. */
const PROBE = String.raw`
const cp = require('child_process');
const fs = require('fs');
const out = { version: process.version };
const r = process.report.getReport();
out.report = [r.header.nodejsVersion, Array.isArray(r.javascriptStack.stack), r.nativeStack.length > 0, r.libuv.length > 0];
const e = cp.spawnSync(process.execPath, ['-e', 'function deep() { throw new Error("boom"); }\nfunction outer() { deep(); }\nouter();'], { encoding: 'utf8' });
out.uncaught = [e.status, /^Error: boom$/m.test(e.stderr), /at deep \(\[eval\]:1:/.test(e.stderr), /at outer \(\[eval\]:2:/.test(e.stderr)];
const dir = fs.mkdtempSync('/tmp/prof-');
cp.execFileSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, '-e', 'function spin() { let x = 0; const t = Date.now(); while (Date.now() - t < 300) x += Math.sqrt(x + 1); return x; } spin();']);
const files = fs.readdirSync(dir);
const prof = JSON.parse(fs.readFileSync(dir + '/' + files[0], 'utf8'));
out.profile = [files.length, files[0].endsWith('.cpuprofile'), prof.samples.length > 0, prof.nodes.some((n) => n.callFrame.functionName === 'spin')];
const at = new Date(Date.UTC(2024, 6, 1, 12, 0));
out.zones = ['Asia/Tokyo', 'America/New_York', 'Europe/London', 'Australia/Sydney', 'Asia/Kolkata'].map((timeZone) =>
  new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hour12: false }).format(at));
out.zone = new Intl.DateTimeFormat('en', { timeZone: 'Asia/Tokyo', dateStyle: 'full', timeStyle: 'long' }).format(at);
console.log(JSON.stringify(out));
`;

/** Section names in order, from `readelf -S`. */
function sectionNames(file: string): string[] {
  const out = execFileSync('readelf', ['-W', '-S', file], { encoding: 'utf8' });
  return [...out.matchAll(/^\s*\[\s*\d+\]\s+(\S*)\s+[A-Z_]+\s/gm)].map((m) => m[1]!);
}

describe('e2e: the stripped Node in the Docker engine', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const images: string[] = [];
  before(async () => {
    dir = await tempDir('distill-strip-e2e-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    removeImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  async function base(
    name: string,
    ...flags: string[]
  ): Promise<{ image: string; rootfs: string; node: string }> {
    const layout = join(dir, name);
    const image = `distill-e2e/strip-${name}:${TAG}`;
    const r = await distill(
      [
        'base',
        'nodejs24',
        '--nonroot',
        '-q',
        ...flags,
        '-o',
        `oci:${layout}:n`,
        '-o',
        `docker-daemon:${image}`,
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    const bundle = join(dir, `bundle-${name}`);
    execFileSync('umoci', ['unpack', '--image', `${layout}:n`, bundle], { stdio: 'pipe' });
    return { image, rootfs: join(bundle, 'rootfs'), node: join(bundle, 'rootfs', 'nodejs', 'bin', 'node') };
  }

  test('nodejs24: stripped by default, --no-strip whole; both run the same, and the strip is what strip -s does', async (t) => {
    if (!requireComponents(t, 'docker', 'umoci', 'readelf', 'strip')) return;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const stripped = await base('stripped');
    const whole = await base('whole', '--no-strip');

    const label = (image: string) =>
      JSON.parse(docker(['image', 'inspect', image]))[0].Config.Labels?.['dev.distill.node.stripped'];
    assert.equal(label(stripped.image), 'true');
    assert.equal(label(whole.image), undefined);

    // The sections GNU strip -s leaves of the same release's binary; the dynamic symbols, notes
    // and build-id stay.
    const reference = join(dir, 'node.gnu-strip');
    execFileSync('strip', ['-s', '-o', reference, whole.node]);
    const ours = sectionNames(stripped.node);
    assert.deepEqual(ours, sectionNames(reference));
    for (const s of ['.dynsym', '.dynstr', '.note.gnu.build-id', '.text']) assert.ok(ours.includes(s), s);
    for (const s of ['.symtab', '.strtab', '.debug_info']) assert.ok(!ours.includes(s), s);
    assert.ok(sectionNames(whole.node).includes('.symtab'));
    const size = (f: string) => statSync(f).size;
    t.diagnostic(
      `bin/node: whole ${size(whole.node)} B, distill's strip ${size(stripped.node)} B, GNU strip -s ${size(reference)} B`,
    );
    assert.ok(size(stripped.node) < size(whole.node) * 0.95, 'the strip removed a real part of the binary');
    // The notes (build-id, annobin's build attributes) are kept whole: readelf reads the same
    // notes, but for the names of the regions they apply to, which it took from the static
    // symbol table ("(_dl_relocate_static_pie)").
    const notes = (f: string) =>
      spawnSync('readelf', ['-W', '-n', f], { encoding: 'utf8', maxBuffer: 1 << 26 }).stdout.replace(
        / \([^()\n]*\)$/gm,
        '',
      );
    const n1 = notes(stripped.node);
    assert.match(n1, /Build ID: \w+/);
    assert.equal(n1, notes(whole.node));

    const run = (image: string, ...args: string[]) =>
      spawnSync(DOCKER, ['run', '--rm', '--network', 'none', image, ...args], {
        encoding: 'utf8',
        timeout: 120_000,
      });
    const version = run(stripped.image, '--version');
    assert.equal(version.status, 0, version.stderr);
    assert.match(version.stdout.trim(), /^v24\.\d+\.\d+$/);

    const probe = (image: string) => {
      const r = run(image, '-e', PROBE);
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout) as Record<string, unknown>;
    };
    const a = probe(stripped.image);
    assert.equal(a.version, version.stdout.trim());
    assert.deepEqual(a.report, [version.stdout.trim(), true, true, true]);
    assert.deepEqual(a.uncaught, [1, true, true, true]);
    assert.deepEqual(a.profile, [1, true, true, true]);
    assert.deepEqual(a.zones, ['21:00', '08:00', '13:00', '22:00', '17:30']);
    assert.match(
      String(a.zone),
      /^Monday, 1 July 2024 at 21:00:00 GMT\+9$|^Monday, July 1, 2024 at 9:00:00\s?PM GMT\+9$/,
    );
    assert.deepEqual(probe(whole.image), a, 'the whole binary behaves the same');

    // An uncaught error in the image's own node: the trace as the user sees it, exit code 1.
    const thrown = run(stripped.image, '-e', 'function handler() { null.x; }\nhandler();');
    assert.equal(thrown.status, 1);
    assert.match(thrown.stderr, /TypeError: Cannot read properties of null \(reading 'x'\)/);
    assert.match(thrown.stderr, /at handler \(\[eval\]:1:/);
  });
});
