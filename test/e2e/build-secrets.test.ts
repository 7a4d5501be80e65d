import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, type TestContext, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';
import { dir as dirEntry, file, hardlink, symlink, tarOf } from '../inspect/helpers.js';

/**
 * Issue 13, points 8 and 9, through the CLI with the npm registry and Debian's archive: an app
 * directory holding each kind of secret and no .dockerignore builds with the secrets left out of
 * the image and named in one warning (`--include-secret` keeps one deliberately), and a --base
 * image whose layers hold entries that leave the root is refused before anything is written.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The secrets of the issue, each as a file of the app directory (the private key is made by ssh-keygen). */
const SECRETS: Record<string, string> = {
  '.env': 'NODE_ENV=production\nDB_PASSWORD=correct-horse-battery-staple\n',
  // A registry host that is never asked: npm reads this .npmrc during the install and must not fail.
  '.npmrc': '//npm.example.invalid/:_authToken=npm_0123456789abcdefghijklmnopqrstuvwxyz\n',
  '.aws/credentials':
    '[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n',
  '.docker/config.json': '{"auths":{"registry.example.invalid":{"auth":"ZGVwbG95Omh1bnRlcjI="}}}\n',
  '.git-credentials': 'https://deploy:ghp_0123456789abcdefghij@git.example.invalid\n',
};
const ALL = [...Object.keys(SECRETS), 'id_rsa'].sort();

describe('e2e: secrets stay out of images, hostile bases are refused (issue 13 points 8, 9)', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let app = '';
  before(async () => {
    dir = await tempDir('distill-build-secrets-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
    app = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
    await rm(join(app, '.dockerignore'), { force: true });
    for (const [rel, text] of Object.entries(SECRETS)) {
      await mkdir(join(app, rel, '..'), { recursive: true });
      await writeFile(join(app, rel), text);
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function ready(t: TestContext): Promise<boolean> {
    if (!requireComponents(t, 'ssh-keygen', 'umoci')) return false;
    if (!(await requireNetwork(t, DEBIAN, NPM))) return false;
    if (!existsSync(join(app, 'id_rsa'))) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', join(app, 'id_rsa')]);
    }
    return true;
  }

  /** The files under /app of an OCI layout's image, unpacked by umoci (not by distill). */
  async function appFiles(layout: string, name: string): Promise<Set<string>> {
    const bundle = join(dir, `bundle-${name}`);
    await rm(bundle, { recursive: true, force: true });
    execFileSync('umoci', ['unpack', '--rootless', '--image', `${layout}:x`, bundle], { stdio: 'pipe' });
    const root = join(bundle, 'rootfs', 'app');
    const out = new Set<string>();
    for (const rel of [...ALL, 'id_rsa.pub', 'index.js', 'package.json']) {
      if (existsSync(join(root, rel))) out.add(rel);
    }
    return out;
  }

  test('issue 13 point 9: the image holds none of the secrets, one warning names each, inspect --deny secrets passes', async (t) => {
    if (!(await ready(t))) return;
    const out = join(dir, 'out');
    const r = await distill(['build', app, '-q', '--node', '24', '-o', `oci:${out}:x`], env);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await appFiles(out, 'default'), new Set(['id_rsa.pub', 'index.js', 'package.json']));
    const deny = await distill(['inspect', `oci:${out}:x`, '--deny', 'secrets', '-q'], env);
    assert.equal(deny.code, 0, deny.stdout + deny.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('distill: warning:'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(r.stderr, /6 files that look like secrets were left out of the app layer/);
    for (const rel of ALL)
      assert.match(r.stderr, new RegExp(`\\n  ${rel.replace(/[.]/g, '\\.')} +[a-z-]+: `), rel);
    assert.match(r.stderr, /\n {2}\.npmrc +npmrc-token: an npm registry credential/);
    assert.match(r.stderr, /\n {2}id_rsa +private-key: a private key/);
    assert.match(r.stderr, /--include-secret PATH/);

    // The app's own files are known before the build: the plan lists what will be left out.
    const plan = await distill(['build', app, '--plan', '--node', '24'], env);
    assert.equal(plan.code, 0, plan.stderr);
    const planned = JSON.parse(plan.stdout) as { secrets: { leftOut: { path: string; kind: string }[] } };
    assert.deepEqual(
      planned.secrets.leftOut.map((s) => `${s.path} ${s.kind}`),
      [
        '.aws/credentials aws-credentials',
        '.docker/config.json docker-config',
        '.env dotenv',
        '.git-credentials git-credentials',
        '.npmrc npmrc-token',
        'id_rsa private-key',
      ],
    );
  });

  test('--include-secret .env keeps that one file (noted in the plan); a path not there is a usage error', async (t) => {
    if (!(await ready(t))) return;
    const out = join(dir, 'out-include');
    const r = await distill(
      ['build', app, '-q', '--node', '24', '--include-secret', '.env', '-o', `oci:${out}:x`],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /5 files that look like secrets were left out/);
    assert.doesNotMatch(r.stderr, /\n {2}\.env /);
    assert.match(r.stderr, /\n {2}\.npmrc /);
    const files = await appFiles(out, 'include');
    assert.ok(files.has('.env'));
    for (const rel of ALL.filter((f) => f !== '.env')) assert.ok(!files.has(rel), rel);
    assert.equal(
      await readFile(join(dir, 'bundle-include', 'rootfs', 'app', '.env'), 'utf8'),
      SECRETS['.env'],
    );
    // What was kept deliberately is what inspect finds.
    const deny = await distill(['inspect', `oci:${out}:x`, '--deny', 'secrets', '-q'], env);
    assert.equal(deny.code, 3, deny.stdout + deny.stderr);
    assert.match(deny.stderr + deny.stdout, /\/app\/\.env/);

    const plan = await distill(['build', app, '--plan', '--node', '24', '--include-secret', './.env'], env);
    assert.equal(plan.code, 0, plan.stderr);
    const secrets = (JSON.parse(plan.stdout) as { secrets: { include: string[]; kept: { path: string }[] } })
      .secrets;
    assert.deepEqual(secrets.include, ['.env']);
    assert.deepEqual(
      secrets.kept.map((s) => s.path),
      ['.env'],
    );

    const missing = await distill(['build', app, '--plan', '--include-secret', 'config/.env.prod'], env);
    assert.equal(missing.code, 2, missing.stderr);
    assert.match(missing.stderr, /--include-secret config\/\.env\.prod: no such file/);
    const plain = await distill(
      ['build', app, '--plan', '--node', '24', '--include-secret', 'index.js'],
      env,
    );
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stderr, /warning: --include-secret index\.js: not a secret by distill's rules/);
  });

  /**
   * distill's own cc base (nonroot) in an OCI layout, with one more layer written by the test:
   * a base that builds, but for that layer.
   */
  async function hostileBase(entries: Parameters<typeof tarOf>[0]): Promise<string> {
    const base = join(dir, 'cc-base');
    if (!existsSync(base)) {
      const b = await distill(['base', 'cc', '--nonroot', '-q', '-o', `oci:${base}:cc`], env);
      assert.equal(b.code, 0, b.stderr);
    }
    const layer = await tarOf(entries);
    const blobs = join(base, 'blobs', 'sha256');
    const put = async (bytes: Buffer) => {
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      await writeFile(join(blobs, digest.slice(7)), bytes);
      return { digest, size: bytes.length };
    };
    const blob = async (d: { digest: string }) => readFile(join(blobs, d.digest.slice(7)), 'utf8');
    const index = JSON.parse(await readFile(join(base, 'index.json'), 'utf8')) as {
      manifests: { digest: string; annotations?: Record<string, string> }[];
    };
    const cc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'cc')!;
    const manifest = JSON.parse(await blob(cc)) as {
      config: { digest: string; size: number };
      layers: object[];
    };
    const config = JSON.parse(await blob(manifest.config)) as { rootfs: { diff_ids: string[] } };
    const added = await put(layer);
    config.rootfs.diff_ids.push(added.digest);
    manifest.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...added });
    manifest.config = { ...manifest.config, ...(await put(Buffer.from(JSON.stringify(config)))) };
    const m = await put(Buffer.from(JSON.stringify(manifest)));
    index.manifests.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      ...m,
      annotations: { 'org.opencontainers.image.ref.name': 'hostile' },
    } as (typeof index.manifests)[number]);
    await writeFile(join(base, 'index.json'), JSON.stringify(index));
    return `oci:${base}:hostile`;
  }

  test('issue 13 point 8: a --base whose layers leave the root is refused, naming the entries; nothing is written', async (t) => {
    if (!(await ready(t))) return;
    const base = await hostileBase([
      dirEntry('srv/'),
      file('/etc/cron.d/job', '* * * * * root /tmp/x\n'),
      file('../../escape', 'outside\n'),
      hardlink('srv/shadow', '/etc/shadow'),
      symlink('evil', '/etc'),
      file('evil/cron.d/backdoor', '* * * * * root /tmp/x\n'),
    ]);
    const out = join(dir, 'out-hostile');
    const r = await distill(['build', app, '-q', '--node', '24', '--base', base, '-o', `oci:${out}:x`], env);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /has 4 layer entries that leave the image root/);
    for (const e of [
      '"/etc/cron.d/job": absolute-name',
      '"../../escape": parent-reference',
      '"srv/shadow": hardlink-outside \\(/etc/shadow\\)',
      '"evil/cron.d/backdoor": through-symlink \\(/evil\\)',
    ]) {
      assert.match(r.stderr, new RegExp(e), e);
    }
    assert.ok(!existsSync(out), 'no output was written');
    // The same base without that layer builds.
    const clean = base.replace(/:hostile$/, ':cc');
    const ok = await distill(
      ['build', app, '-q', '--node', '24', '--base', clean, '-o', `oci:${out}:x`],
      env,
    );
    assert.equal(ok.code, 0, ok.stderr);
  });
});
