import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LOTL_TOOLS, lotlToolOf } from '../../src/inspect/lotl.js';
import {
  envSecret,
  isDotenv,
  isPrivateKey,
  npmrcHasToken,
  redactEnv,
  secretEnvName,
} from '../../src/inspect/secrets.js';

test('environment variable names that look like credentials, and those that do not', () => {
  const yes = [
    'API_TOKEN',
    'GITHUB_TOKEN',
    'NPM_TOKEN',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_ACCESS_KEY_ID',
    'CLIENT_SECRET',
    'SECRET_KEY_BASE',
    'DB_PASSWORD',
    'PGPASSWORD',
    'STRIPE_API_KEY',
    'OPENAI_APIKEY',
    'GOOGLE_APPLICATION_CREDENTIALS',
    'NPM_CONFIG__AUTH',
    'token',
  ];
  const no = [
    'PATH',
    'NODE_VERSION',
    'YARN_VERSION',
    'GPG_KEY',
    'TOKENIZERS_PARALLELISM',
    'POSTGRES_PASSWORD_FILE',
    'SSL_CERT_FILE',
    'KEY_PATH',
    'HOME',
  ];
  assert.deepEqual(
    yes.filter((n) => !secretEnvName(n)),
    [],
  );
  assert.deepEqual(
    no.filter((n) => secretEnvName(n)),
    [],
  );
  assert.equal(envSecret('API_TOKEN='), undefined, 'an empty value holds nothing');
  assert.equal(envSecret('MAX_TOKENS=4096'), undefined, 'a number is a setting');
  assert.equal(envSecret('REDIS_URL=redis://:s3cret@cache:6379'), 'url-credentials');
  assert.equal(envSecret('MIRROR=https://example.com/x@y'), undefined);
  assert.deepEqual(redactEnv(['A=1', 'API_TOKEN=abc=def', 'URL=http://u:p@h/']), [
    'A=1',
    'API_TOKEN=<redacted>',
    'URL=<redacted>',
  ]);
});

test('private keys, .npmrc tokens and .env files', () => {
  for (const k of ['RSA ', 'EC ', 'OPENSSH ', 'ENCRYPTED ', 'DSA ', '']) {
    assert.ok(isPrivateKey(Buffer.from(`-----BEGIN ${k}PRIVATE KEY-----\nMII`)), k);
  }
  assert.ok(!isPrivateKey(Buffer.from('-----BEGIN PUBLIC KEY-----\n')));
  assert.ok(!isPrivateKey(Buffer.from('-----BEGIN CERTIFICATE-----\n')));
  assert.ok(!isPrivateKey(Buffer.from(' -----BEGIN RSA PRIVATE KEY-----')));
  assert.ok(npmrcHasToken('//registry.npmjs.org/:_authToken=abc\n'));
  assert.ok(npmrcHasToken('_auth = dXNlcjpwYXNz\n'));
  assert.ok(npmrcHasToken('//npm.example/:_password=cGFzcw==\n'));
  assert.ok(!npmrcHasToken('# //registry.npmjs.org/:_authToken=abc\nregistry=https://r/\n'));
  assert.ok(!npmrcHasToken('//registry.npmjs.org/:_authToken=\n'));
  assert.deepEqual(
    ['.env', '.env.production', '.env.local', '.env.example', '.env.sample', '.envrc', 'x.env'].filter(
      isDotenv,
    ),
    ['.env', '.env.production', '.env.local'],
  );
});

test('every living-off-the-land tool has a reason and a name of its own', () => {
  const names = LOTL_TOOLS.map((t) => t.name);
  assert.equal(new Set(names).size, names.length);
  assert.ok(LOTL_TOOLS.every((t) => t.reason.length >= 15));
  for (const required of [
    'curl',
    'wget',
    'nc',
    'socat',
    'python',
    'perl',
    'openssl',
    'ssh',
    'gcc',
    'base64',
  ]) {
    assert.ok(names.includes(required), required);
  }
  assert.ok(!names.includes('node'), 'node is the runtime distill images carry');
});

test('lotlToolOf: a binary belongs to the tool of its name, else to the one whose pattern matches', () => {
  assert.equal(lotlToolOf('su')?.name, 'su');
  assert.equal(lotlToolOf('sudo')?.name, 'sudo');
  assert.equal(lotlToolOf('python3.13')?.name, 'python');
  assert.equal(lotlToolOf('clang-19')?.name, 'gcc');
  assert.equal(lotlToolOf('node'), undefined);
  assert.equal(lotlToolOf('pythonista'), undefined);
});
