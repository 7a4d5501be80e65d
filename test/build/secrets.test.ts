import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { appContext, copyContext } from '../../src/build/app/context.js';
import { includePath, leftOutWarning, planSecrets, SecretSieve } from '../../src/build/app/secrets.js';
import { isDistillError } from '../../src/errors.js';
import { tempDir } from '../helpers/components.js';

/**
 * What the app layer leaves out as a secret (src/build/app/secrets.ts), without building: the
 * plan's list of an app directory's secrets, the scratch copy that keeps what an install reads,
 * and `--include-secret` checked.
 */
const KEY = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const FILES: Record<string, string> = {
  'package.json': '{"name":"app","version":"1.0.0"}\n',
  'index.js': 'require("./src/server");\n',
  // Code is not read for a key: a file that started with one would not be code.
  'src/server.js': KEY,
  'README.md': '# app\n',
  '.env': 'NODE_ENV=production\nDB_PASSWORD=correct-horse\n',
  '.env.example': 'DB_PASSWORD=\n',
  '.npmrc': '//npm.example.invalid/:_authToken=npm_0123456789abcdef\n',
  // npm expands the variable: no token in the file.
  'packages/a/.npmrc': `//registry.npmjs.org/:_authToken=\${NPM_TOKEN}\n`,
  '.yarnrc.yml': 'npmRegistries:\n  "//npm.example.invalid":\n    npmAuthToken: "npm_0123456789"\n',
  '.aws/credentials': '[default]\naws_access_key_id=AKIA1\naws_secret_access_key=wJalrXUtnFEMI\n',
  '.docker/config.json': '{"auths":{"r.example.invalid":{"auth":"dXNlcjpwYXNz"}}}',
  '.git-credentials': 'https://u:ghp_token@git.example.invalid\n',
  'certs/server.key': KEY,
  'certs/server.crt': '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  'config/id_ed25519': KEY,
  // Never walked: node_modules (the registry's packages), and what .dockerignore leaves out.
  'node_modules/dep/test/key.pem': KEY,
  'ignored/.env': 'API_TOKEN=abc123\n',
  '.dockerignore': 'ignored\n',
};

const LEFT_OUT = [
  '.aws/credentials aws-credentials',
  '.docker/config.json docker-config',
  '.env dotenv',
  '.git-credentials git-credentials',
  '.npmrc npmrc-token',
  '.yarnrc.yml npmrc-token',
  'certs/server.key private-key',
  'config/id_ed25519 private-key',
];

const usage = (re: RegExp) => (e: unknown) => {
  assert.ok(isDistillError(e, 'USAGE'), String(e));
  assert.match(e.message, re);
  return true;
};

describe('secrets of the app directory: left out of the app layer, kept for the install', () => {
  let dir = '';
  let app = '';
  before(async () => {
    dir = await tempDir('distill-secrets-');
    app = join(dir, 'app');
    for (const [rel, text] of Object.entries(FILES)) {
      await mkdir(join(app, rel, '..'), { recursive: true });
      await writeFile(join(app, rel), text);
    }
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('the plan lists each kind with its reason; .dockerignore first; node_modules, templates, certificates not', async () => {
    const { secrets, warnings } = await planSecrets(await appContext(app), false);
    assert.deepEqual(
      secrets.leftOut.map((s) => `${s.path} ${s.kind}`),
      LEFT_OUT,
    );
    assert.deepEqual(secrets.kept, []);
    assert.deepEqual(secrets.include, []);
    assert.deepEqual(warnings, []);
    assert.match(secrets.leftOut[0]!.reason, /AWS access keys/);
    const warning = leftOutWarning(secrets.leftOut.map((s) => ({ ...s, kind: s.kind as 'dotenv' })))!;
    assert.match(warning, /^8 files that look like secrets were left out of the app layer:\n/);
    assert.match(warning, /\n {2}\.env {17}dotenv: application secrets/);
    assert.match(warning, /\nThe install still reads \.npmrc and \.yarnrc\.yml, in its scratch copy\.\n/);
    assert.match(warning, /--include-secret PATH\.$/);
    assert.doesNotMatch(leftOutWarning([{ path: 'id_rsa', kind: 'private-key', reason: 'r' }])!, /install/);
    assert.equal(leftOutWarning([]), undefined);
  });

  test('the scratch copy the install runs in still has them; the sieve leaves them out of a walk', async () => {
    const ctx = await appContext(app);
    await copyContext(ctx, join(dir, 'scratch'));
    for (const rel of ['.npmrc', '.yarnrc.yml', '.env', 'certs/server.key']) {
      assert.ok(existsSync(join(dir, 'scratch', rel)), rel);
    }
    assert.ok(!existsSync(join(dir, 'scratch', 'ignored')));
    const sieve = new SecretSieve(['.env']);
    const size = Buffer.byteLength(FILES['.env']!);
    assert.equal(sieve.leavesOut(app, '.env', { type: 'file', size }), false, 'kept: --include-secret');
    assert.equal(sieve.leavesOut(app, '.npmrc', { type: 'file', size: 60 }), true);
    assert.equal(sieve.leavesOut(app, 'index.js', { type: 'file', size: 24 }), false);
    assert.equal(sieve.leavesOut(app, 'certs', { type: 'dir', size: 4096 }), false, 'directories are walked');
    assert.deepEqual(
      sieve.kept().map((s) => s.path),
      ['.env'],
    );
    assert.deepEqual(
      sieve.leftOut().map((s) => s.path),
      ['.npmrc'],
    );
    assert.deepEqual(sieve.unmet(), []);
  });

  test('--include-secret keeps a file or a directory; a path not there, ignored, or outside is a usage error', async () => {
    const kept = await planSecrets(
      await appContext(app, { includeSecrets: ['./.env', 'certs/', 'certs'] }),
      false,
    );
    assert.deepEqual(kept.secrets.include, ['.env', 'certs']);
    assert.deepEqual(
      kept.secrets.kept.map((s) => s.path),
      ['.env', 'certs/server.key'],
    );
    assert.equal(kept.secrets.leftOut.length, LEFT_OUT.length - 2);
    assert.deepEqual(kept.warnings, []);

    const plain = await planSecrets(await appContext(app, { includeSecrets: ['index.js', 'src'] }), false);
    assert.deepEqual(plain.warnings, [
      "--include-secret index.js: not a secret by distill's rules; it goes into the image as any other file would",
      "--include-secret src: not a secret by distill's rules; it goes into the image as any other file would",
    ]);

    await assert.rejects(
      planSecrets(await appContext(app, { includeSecrets: ['.env', 'config/.env.prod'] }), false),
      usage(/^--include-secret config\/\.env\.prod: no such file in \S+\/app$/),
    );
    await assert.rejects(
      planSecrets(await appContext(app, { includeSecrets: ['ignored/.env'] }), false),
      usage(/--include-secret ignored\/\.env: the build leaves it out \(a pattern of \.dockerignore/),
    );
    await assert.rejects(
      planSecrets(await appContext(app, { includeSecrets: ['node_modules/dep/test/key.pem'] }), false),
      usage(/node_modules, \.git and \.distill, which never go in/),
    );
    for (const p of ['/etc/passwd', '../app/.env', '.', '']) {
      assert.throws(() => includePath(p), usage(/relative to the app directory/), p);
    }
    assert.equal(includePath('certs/./server.key'), 'certs/server.key');

    // With a build script, a path not there yet may be its output: the build checks it.
    const later = await planSecrets(await appContext(app, { includeSecrets: ['dist/tls.key'] }), true);
    assert.deepEqual(later.secrets.include, ['dist/tls.key']);
    assert.deepEqual(later.warnings, []);
  });
});
