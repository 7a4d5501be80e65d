import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { tempDir } from './helpers/components.js';
import { packedCheckout } from './helpers/pack.js';

/**
 * The package as users get it: `npm pack` of a copy of the checkout, installed with `npm install
 * -g` into a prefix. The tarball's package.json has no `prepare` (scripts/pack-manifest.mjs), so
 * npm does not warn of install scripts to allow; the checkout's package.json is left as it was.
 */
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MANIFEST_TEXT = readFileSync(join(ROOT, 'package.json'), 'utf8');
const VERSION = (JSON.parse(MANIFEST_TEXT) as { version: string }).version;

let tmp: string;
before(async () => {
  tmp = await tempDir('distill-pack-');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(cmd: string, args: string[], cwd: string) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}:\n${r.stderr}`);
  return r;
}

const strip = (root: string) =>
  run(process.execPath, [join(root, 'scripts', 'pack-manifest.mjs'), 'strip'], root);
const restore = (root: string) =>
  run(process.execPath, [join(root, 'scripts', 'pack-manifest.mjs'), 'restore'], root);

describe('scripts/pack-manifest.mjs', () => {
  test('strip leaves out prepare only; restore gives back the same bytes, also after a failed pack', () => {
    const root = join(tmp, 'manifest');
    cpSync(join(ROOT, 'scripts'), join(root, 'scripts'), { recursive: true });
    writeFileSync(join(root, 'package.json'), MANIFEST_TEXT);
    strip(root);
    const stripped = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    const original = JSON.parse(MANIFEST_TEXT) as { scripts: Record<string, string> };
    assert.ok(original.scripts.prepare !== undefined, 'the checkout has a prepare script');
    const { prepare: _, ...rest } = original.scripts;
    assert.deepEqual(stripped.scripts, rest);
    // A pack that failed after prepack never ran postpack: the next strip starts from the original.
    strip(root);
    restore(root);
    assert.equal(readFileSync(join(root, 'package.json'), 'utf8'), MANIFEST_TEXT);
    assert.equal(existsSync(join(root, '.package.json.prepack')), false);
    restore(root);
    assert.equal(
      readFileSync(join(root, 'package.json'), 'utf8'),
      MANIFEST_TEXT,
      'restore twice is harmless',
    );
  });
});

describe('npm pack, npm install -g', () => {
  test('installs without an install-scripts warning and runs; the checkout is unchanged', {
    timeout: 600_000,
  }, async () => {
    const packed = await packedCheckout();
    assert.equal(packed.manifestAfter, MANIFEST_TEXT, 'package.json restored after the pack');
    const inTarball = run('tar', ['-xzOf', packed.tgz, 'package/package.json'], tmp).stdout;
    const scripts = (JSON.parse(inTarball) as { scripts: Record<string, string> }).scripts;
    assert.equal(scripts.prepare, undefined, 'no prepare in the tarball');
    assert.equal(
      run('tar', ['-tzf', packed.tgz], tmp)
        .stdout.split('\n')
        .some((f) => f.startsWith('package/dist/bundle/')),
      true,
      'the tarball has the bundle',
    );
    const prefix = join(tmp, 'prefix');
    const install = run(
      'npm',
      ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', packed.tgz],
      tmp,
    );
    assert.doesNotMatch(`${install.stdout}\n${install.stderr}`, /install.scripts/i);
    const version = run(join(prefix, 'bin', 'distill'), ['--version'], tmp);
    assert.equal(version.stdout.trim(), VERSION);
  });
});
