import assert from 'node:assert/strict';
import { cp, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeLayoutDir } from '../../src/media/layout/write.js';
import { distill, distillProcess } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';
import { shellImage } from '../inspect/samples.js';
import { assertImageCycloneDxIsLibrarys, assertValidCycloneDx, assertValidSpdx, purlOf } from './helpers.js';
import { debootstrap, exec, imageFromDirs } from './images.js';

type Json = Record<string, unknown>;

/** `distill sbom REF` in both formats, each checked valid; returns the texts. */
async function sboms(ref: string, cache: string): Promise<{ spdx: string; cdx: string }> {
  const out: string[] = [];
  for (const format of ['spdx-json', 'cyclonedx-json']) {
    const r = await distill(['sbom', ref, '--format', format, '--quiet'], { DISTILL_CACHE: cache });
    assert.equal(r.code, 0, r.stderr);
    out.push(r.stdout);
  }
  await assertValidSpdx(out[0]!);
  await assertValidCycloneDx(out[1]!);
  await assertImageCycloneDxIsLibrarys(ref);
  return { spdx: out[0]!, cdx: out[1]! };
}

const packagesOf = (spdx: string, purlType: string) =>
  (JSON.parse(spdx).packages as Json[]).filter((p) => purlOf(p)?.type === purlType);

test('sbom of a debootstrap minbase image: its Debian packages are what dpkg-query lists, byte-identical across two builds', {
  timeout: 20 * 60_000,
}, async (t) => {
  if (!requireComponents(t, 'debootstrap', 'dpkg-query')) return;
  if (!(await requireNetwork(t, DEBIAN))) return;
  const dir = await tempDir('distill-sbom-deb-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const root = await debootstrap(dir);
  const { stdout } = await exec('dpkg-query', [
    `--admindir=${root}/var/lib/dpkg`,
    '-W',
    '-f',
    // dpkg-query's own field syntax, not a template string.
    `${['db:Status-Abbrev', 'Package', 'Version', 'Architecture'].map((f) => `\${${f}}`).join('\t')}\n`,
  ]);
  const want = stdout
    .split('\n')
    .filter((l) => l.startsWith('ii'))
    .map((l) => l.split('\t').slice(1).join(' '))
    .sort();
  assert.ok(want.length > 50, `minbase has its packages (${want.length})`);
  assert.ok(
    want.some((l) => / \d+:/.test(l)),
    'some versions have an epoch',
  );

  // Built twice, each time with an empty cache, into the same place: the same SBOM bytes.
  const a = await imageFromDirs(join(dir, 'image'), join(dir, 'cache-a'), [{ dir: root }]);
  const sa = await sboms(a.ref, join(dir, 'cache-sa'));
  await rm(join(dir, 'image'), { recursive: true });
  const b = await imageFromDirs(join(dir, 'image'), join(dir, 'cache-b'), [{ dir: root }]);
  const sb = await sboms(b.ref, join(dir, 'cache-sb'));
  assert.equal(sb.spdx, sa.spdx);
  assert.equal(sb.cdx, sa.cdx);
  const debs = packagesOf(sa.spdx, 'deb');
  const got = debs.map((p) => `${p.name} ${p.versionInfo} ${purlOf(p)?.qualifiers?.arch}`).sort();
  assert.deepEqual(got, want);
  for (const p of debs) {
    assert.equal(purlOf(p)?.qualifiers?.distro, 'debian-13');
    assert.match(String(p.sourceInfo), new RegExp(`in layer ${a.layers[0]}`));
  }
  const bash = debs.find((p) => p.name === 'bash')!;
  assert.notEqual(bash.licenseDeclared, 'NOASSERTION', "bash's copyright file is machine-readable");
});

/** Every name@version of `npm ls --all --json` (each once). */
function npmLsSet(tree: Json): string[] {
  const out = new Set<string>();
  const walk = (deps: unknown) => {
    for (const [name, d] of Object.entries((deps ?? {}) as Record<string, Json>)) {
      if (typeof d.version === 'string') out.add(`${name}@${d.version}`);
      walk(d.dependencies);
    }
  };
  walk(tree.dependencies);
  return [...out].sort();
}

test("sbom of the example app's image: npm components are what npm ls --all --omit=dev lists", {
  timeout: 10 * 60_000,
}, async (t) => {
  if (!requireComponents(t, 'npm')) return;
  if (!(await requireNetwork(t, NPM))) return;
  const dir = await tempDir('distill-sbom-npm-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const app = join(dir, 'app');
  await cp(new URL('../../examples/hello', import.meta.url), app, { recursive: true });
  const env = {
    ...process.env,
    npm_config_cache: join(dir, 'npm-cache'),
    npm_config_update_notifier: 'false',
  };
  await exec('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], { cwd: app, env });
  const ls = JSON.parse(
    (await exec('npm', ['ls', '--all', '--omit=dev', '--json'], { cwd: app, env })).stdout,
  );
  const want = npmLsSet(ls);
  assert.ok(want.length > 30, 'express and its dependencies');

  const image = await imageFromDirs(join(dir, 'out'), join(dir, 'cache'), [{ dir: app, prefix: '/app' }]);
  const { spdx, cdx } = await sboms(image.ref, join(dir, 'cache-s'));
  const npm = packagesOf(spdx, 'npm');
  assert.deepEqual([...new Set(npm.map((p) => `${p.name}@${p.versionInfo}`))].sort(), want);
  const lock = JSON.parse(await readFile(join(app, 'package-lock.json'), 'utf8'));
  const express = npm.find((p) => p.name === 'express')!;
  assert.equal(express.licenseDeclared, 'MIT');
  // This lockfile was written without `resolved` (npm's omit-lockfile-registry-resolved): none is made up.
  assert.equal(express.downloadLocation, lock.packages['node_modules/express'].resolved ?? 'NOASSERTION');
  const sha512 = Buffer.from(
    lock.packages['node_modules/express'].integrity.slice('sha512-'.length),
    'base64',
  );
  assert.deepEqual(express.checksums, [{ algorithm: 'SHA512', checksumValue: sha512.toString('hex') }]);
  // express depends on what Node would load for it (body-parser, ...), as the relationships say.
  const doc = JSON.parse(spdx);
  const deps = (doc.relationships as Json[])
    .filter((r) => r.spdxElementId === express.SPDXID && r.relationshipType === 'DEPENDS_ON')
    .map((r) => (doc.packages as Json[]).find((p) => p.SPDXID === r.relatedSpdxElement)!.name)
    .sort();
  assert.deepEqual(deps, Object.keys(lock.packages['node_modules/express'].dependencies).sort());
  const c = JSON.parse(cdx);
  assert.equal(c.components.filter((x: Json) => String(x.purl).startsWith('pkg:npm/')).length, npm.length);
});

test('sbom of an Alpine-like image lists its apk database with architecture, licence and origin', async (t) => {
  const dir = await tempDir('distill-sbom-apk-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { writeFile, mkdir } = await import('node:fs/promises');
  const root = join(dir, 'root');
  await mkdir(join(root, 'lib/apk/db'), { recursive: true });
  await mkdir(join(root, 'etc'), { recursive: true });
  await writeFile(join(root, 'etc/os-release'), 'ID=alpine\nVERSION_ID=3.22.2\n');
  await writeFile(
    join(root, 'lib/apk/db/installed'),
    'P:musl\nV:1.2.5-r10\nA:x86_64\nL:MIT\no:musl\n\nP:busybox\nV:1.37.0-r19\nA:x86_64\nL:GPL-2.0-only\no:busybox\n\nP:ssl_client\nV:1.37.0-r19\nA:x86_64\nL:GPL-2.0-only\no:busybox\n',
  );
  const image = await imageFromDirs(join(dir, 'out'), join(dir, 'cache'), [{ dir: root }]);
  const { spdx } = await sboms(image.ref, join(dir, 'cache-s'));
  const apks = packagesOf(spdx, 'apk').map((p) => [
    p.name,
    p.versionInfo,
    p.licenseDeclared,
    purlOf(p)?.toString(),
  ]);
  assert.deepEqual(apks, [
    ['busybox', '1.37.0-r19', 'GPL-2.0-only', 'pkg:apk/alpine/busybox@1.37.0-r19?arch=x86_64'],
    ['musl', '1.2.5-r10', 'MIT', 'pkg:apk/alpine/musl@1.2.5-r10?arch=x86_64'],
    ['ssl_client', '1.37.0-r19', 'GPL-2.0-only', 'pkg:apk/alpine/ssl_client@1.37.0-r19?arch=x86_64'],
  ]);
  const ssl = packagesOf(spdx, 'apk').find((p) => p.name === 'ssl_client')!;
  assert.match(String(ssl.sourceInfo), /built from source package busybox/);

  // The bundled CLI, as a user runs it, writes the same bytes (the CycloneDX library bundled).
  for (const format of ['spdx-json', 'cyclonedx-json']) {
    const inProcess = await distill(['sbom', image.ref, '--format', format, '--quiet'], {
      DISTILL_CACHE: join(dir, 'cache-s'),
    });
    const bundled = distillProcess(['sbom', image.ref, '--format', format, '--quiet'], {
      DISTILL_CACHE: join(dir, 'cache-s'),
    });
    assert.equal(bundled.code, 0, bundled.stderr);
    assert.equal(bundled.stdout, inProcess.stdout, format);
  }

  // The apk database the inspect tests write (test/inspect/samples.ts), as an image of two layers.
  await writeLayoutDir(join(dir, 'shell'), 't', await shellImage());
  const shell = await sboms(`oci:${join(dir, 'shell')}:t`, join(dir, 'cache-s'));
  assert.deepEqual(
    packagesOf(shell.spdx, 'apk').map((p) => `${p.name}@${p.versionInfo}`),
    ['busybox@1.37.0-r19', 'musl@1.2.5-r10'],
  );
});

test('distill sbom: an unknown format is a USAGE error and nothing is written', async (t) => {
  const dir = await tempDir('distill-sbom-usage-');
  t.after(() => rm(dir, { recursive: true, force: true }));
  const out = join(dir, 'sbom.json');
  const r = await distill(['sbom', 'oci:nowhere:t', '--format', 'syft-json', '-o', out], {
    DISTILL_CACHE: join(dir, 'c'),
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /SBOM format "syft-json" is not known/);
  await assert.rejects(readFile(out));

  // An image that is not there: its reference named, nothing written.
  const missing = await distill(['sbom', `oci:${join(dir, 'nowhere')}:t`, '-o', out], {
    DISTILL_CACHE: join(dir, 'c'),
  });
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nowhere/);
  await assert.rejects(readFile(out));
  assert.deepEqual(await readdir(dir).then((names) => names.filter((n) => n !== 'c')), []);
});
