import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { checkDeny, parseDenyRules } from '../../src/inspect/deny.js';
import { inspectImage, inspectRootfs } from '../../src/inspect/index.js';
import {
  envSecret,
  isDotenv,
  isPrivateKey,
  redactEnv,
  SECRET_KINDS,
  SECRET_RULES,
  type SecretKind,
  secretCandidate,
  secretEnvName,
  secretReason,
  secretRuleFor,
} from '../../src/inspect/secret-rules.js';
import { dir, file, imageOf, whiteout } from './helpers.js';

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

const PEM = (kind: string) =>
  `-----BEGIN ${kind}PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecret\n-----END ${kind}PRIVATE KEY-----\n`;
const GCP_KEY = JSON.stringify(
  {
    type: 'service_account',
    project_id: 'p',
    private_key_id: 'abc',
    private_key: `${PEM('')}`,
    client_email: 'x@p.iam.gserviceaccount.com',
  },
  null,
  2,
);
const KUBECONFIG = (user: string) =>
  `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: https://k8s:6443\n    certificate-authority-data: LS0t\n  name: c\nusers:\n- name: u\n  user:\n${user}\n`;

/** Per rule: files (path, content) it flags, and near misses it must not. */
const CASES: Record<
  Exclude<SecretKind, 'env' | 'url-credentials'>,
  { yes: [string, string][]; no: [string, string][] }
> = {
  'private-key': {
    yes: [
      ['srv/tls/server.key', PEM('RSA ')],
      ['root/.ssh/id_ed25519', PEM('OPENSSH ')],
      ['home/a/key.pem', PEM('ENCRYPTED ')],
      ['home/a/id.ppk', 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: a\n'],
    ],
    no: [
      ['srv/tls/server.crt', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
      ['srv/tls/pub.pem', '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n'],
      ['srv/indented.key', ` ${PEM('RSA ')}`],
      ['home/a/notes.txt', 'PuTTY-User-Key-File is the format of PuTTY keys\n'],
    ],
  },
  'npmrc-token': {
    yes: [
      ['app/.npmrc', 'registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=npm_abc\n'],
      ['root/.npmrc', '_auth = dXNlcjpwYXNz\n'],
      ['usr/local/etc/npmrc', '//npm.example/:_password=cGFzcw==\n'],
      // yarn berry's own settings file holds the same kind of credential.
      ['app/.yarnrc.yml', 'nodeLinker: node-modules\nnpmAuthToken: npm_abc123\n'],
      ['app/.yarnrc.yml', 'npmScopes:\n  acme:\n    npmAuthIdent: "user:pass"\n'],
    ],
    no: [
      ['app/.npmrc', '# //registry.npmjs.org/:_authToken=abc\nregistry=https://r/\n'],
      ['app/.npmrc', '//registry.npmjs.org/:_authToken=\n'],
      // npm expands a variable named this way: the file holds no token.
      ['app/.npmrc', `//registry.npmjs.org/:_authToken=\${NPM_TOKEN}\n`],
      ['app/.yarnrc.yml', `nodeLinker: node-modules\nnpmAuthToken: "\${NPM_TOKEN}"\n`],
      ['app/.yarnrc.yml', 'npmAuthToken: ""\nnpmRegistryServer: "https://r.example"\n'],
    ],
  },
  'aws-credentials': {
    yes: [
      ['root/.aws/credentials', '[default]\naws_access_key_id = AKIAX\naws_secret_access_key = wJalr\n'],
      ['home/app/.aws/config', '[profile ci]\nregion = eu-west-1\naws_session_token=FwoGZX\n'],
    ],
    no: [
      ['root/.aws/config', '[default]\nregion = eu-west-1\noutput = json\n'],
      ['root/.aws/credentials', '[default]\naws_access_key_id = AKIAX\naws_secret_access_key =\n'],
      ['srv/credentials', 'aws_secret_access_key = not under .aws\n'],
    ],
  },
  'docker-config': {
    yes: [
      ['root/.docker/config.json', '{"auths":{"ghcr.io":{"auth":"dXNlcjpwYXNz"}}}'],
      ['home/a/.docker/config.json', '{"auths":{"r.example":{"identitytoken":"eyJ"}},"credsStore":"x"}'],
    ],
    no: [
      ['root/.docker/config.json', '{"auths":{"ghcr.io":{}},"credsStore":"desktop"}'],
      ['root/.docker/config.json', '{"credHelpers":{"gcr.io":"gcloud"}}'],
      ['srv/config.json', '{"auths":{"ghcr.io":{"auth":"not under .docker"}}}'],
    ],
  },
  'git-credentials': {
    yes: [
      ['root/.git-credentials', 'https://user:ghp_abc123@github.com\n'],
      ['home/a/.config/git/credentials', 'https://oauth2:glpat-x@gitlab.example\n'],
    ],
    no: [
      ['root/.git-credentials', 'https://github.com\n'],
      ['root/.gitconfig', '[credential]\n\thelper = store\n'],
    ],
  },
  netrc: {
    yes: [
      ['root/.netrc', 'machine api.example login deploy password s3cr3t\n'],
      ['home/a/_netrc', 'machine ftp.example\n  login a\n  password hunter2\n'],
    ],
    no: [['root/.netrc', 'machine api.example login deploy\n']],
  },
  pypirc: {
    yes: [['root/.pypirc', '[pypi]\nusername = __token__\npassword = pypi-AgEIcHlwaS5vcmc\n']],
    no: [['root/.pypirc', '[distutils]\nindex-servers = pypi\n[pypi]\nusername = __token__\n']],
  },
  dotenv: {
    yes: [
      ['app/.env', 'NODE_ENV=production\nDB_PASSWORD=hunter2\n'],
      ['app/.env.production', 'export STRIPE_API_KEY="sk_live_abc"\n'],
      ['app/.env.local', 'DATABASE_URL=postgres://app:pw@db/app\n'],
    ],
    no: [
      ['app/.env.example', 'DB_PASSWORD=hunter2\n'],
      ['app/.env', 'PORT=8080\nDB_PASSWORD=\nAPI_TOKEN=""\nLOG_LEVEL=info\n'],
      ['app/.env', '# API_TOKEN=abc\nUSE_AUTH=false\n'],
    ],
  },
  'gcp-service-account': {
    yes: [['app/keys/sa.json', GCP_KEY]],
    no: [
      ['app/keys/sa.json', GCP_KEY.replace('service_account', 'authorized_user')],
      ['app/keys/sa.json', GCP_KEY.replace(/"private_key": "[^"]*",/, '')],
    ],
  },
  kubeconfig: {
    yes: [
      ['root/.kube/config', KUBECONFIG('    token: eyJhbGciOi')],
      [
        'srv/admin.kubeconfig',
        KUBECONFIG('    client-certificate-data: LS0t\n    client-key-data: LS0tLS1CRUdJTg'),
      ],
    ],
    no: [
      ['root/.kube/config', KUBECONFIG('    exec:\n      command: aws\n      args: [eks, get-token]')],
      ['root/.kube/config', KUBECONFIG('    tokenFile: /var/run/secrets/token\n    token: ""')],
    ],
  },
};

function check(path: string, content: string): SecretKind | undefined {
  const bytes = Buffer.from(content);
  return secretRuleFor(path, bytes.length, (max) => bytes.subarray(0, max))?.id;
}

test('every secret rule flags its files and not the near misses; each has a reason', () => {
  assert.deepEqual(new Set(SECRET_RULES.map((r) => r.id)), new Set(Object.keys(CASES)));
  for (const [kind, { yes, no }] of Object.entries(CASES)) {
    for (const [path, content] of yes)
      assert.equal(check(path, content), kind, `${kind}: ${path} is flagged`);
    for (const [path, content] of no)
      assert.equal(check(path, content), undefined, `${kind}: ${path} is not`);
  }
  for (const kind of SECRET_KINDS) assert.ok(secretReason(kind).length > 20, kind);
  assert.ok(SECRET_RULES.every((r) => r.files.length > 5 && r.bytes > 0));
});

test('secretCandidate: the name decides which rule looks, cheaply; most files get none or the key sniff', () => {
  const at = (path: string, size = 100) =>
    secretCandidate(path, path.slice(path.lastIndexOf('/') + 1), size)?.id;
  assert.equal(at('root/.aws/credentials'), 'aws-credentials');
  assert.equal(at('/root/.aws/credentials'), 'aws-credentials');
  assert.equal(at('.aws/credentials'), 'aws-credentials');
  assert.equal(at('root/x.aws/credentials'), 'private-key', 'x.aws is not .aws');
  assert.equal(at('home/a/.config/git/credentials'), 'git-credentials');
  assert.equal(at('root/.kube/config'), 'kubeconfig');
  assert.equal(at('app/.env', 10), 'dotenv', 'a short .env is read too');
  assert.equal(at('app/.env.sample'), 'private-key', 'a template is only sniffed for a key');
  assert.equal(at('app/node_modules/x/index.js', 20), undefined, 'too small for a key');
  assert.equal(at('app/src/server.js', 2000), undefined, 'code is not read for a key');
  assert.equal(at('app/dist/main.mjs.map', 2000), undefined);
  assert.equal(at('app/certs/server.key', 2000), 'private-key');
  assert.equal(at('app/.yarnrc.yml', 2000), 'npmrc-token');
  assert.equal(at('usr/bin/node', 100_000_000), undefined, 'too large for a key');
  assert.equal(at('app/data.json', 2000), 'gcp-service-account');
  assert.equal(at('app/locale.json', 20_000), undefined, 'larger than any service account key');
  assert.equal(at('app/.npmrc', 1_000_000), 'npmrc-token', 'a named rule reads the start of a large file');
});

test('.env files by name: templates are left out', () => {
  assert.deepEqual(
    ['.env', '.env.production', '.env.local', '.env.example', '.env.sample', '.envrc', 'x.env'].filter(
      isDotenv,
    ),
    ['.env', '.env.production', '.env.local'],
  );
  assert.ok(isPrivateKey(Buffer.from(PEM('DSA '))));
  assert.ok(!isPrivateKey(Buffer.from('P')));
});

test('inspect and --deny secrets flag .env, .npmrc, .aws/credentials and id_rsa of an app; templates not', async () => {
  const app = [
    dir('app/'),
    file('app/.env', 'DB_PASSWORD=correct-horse\n'),
    file('app/.env.example', 'DB_PASSWORD=\n'),
    file('app/.npmrc', '//registry.npmjs.org/:_authToken=npm_0123456789abcdef\n'),
    file('app/.aws/credentials', '[default]\naws_access_key_id=AKIA1\naws_secret_access_key=wJalrXUtnFEMI\n'),
    file('app/id_rsa', PEM('OPENSSH ')),
    file('app/index.js', 'console.log(1)'),
  ];
  const f = await inspectImage(await imageOf({ layers: [app, [whiteout('app/id_rsa')]] }));
  assert.deepEqual(
    f.secrets.map((s) => `${s.kind} ${s.location} removed=${s.removed}`),
    [
      'aws-credentials /app/.aws/credentials removed=false',
      'dotenv /app/.env removed=false',
      'npmrc-token /app/.npmrc removed=false',
      'private-key /app/id_rsa removed=true',
    ],
  );
  const denied = checkDeny(f, parseDenyRules('secrets'), 'app');
  assert.equal(denied[0]!.what.length, 4);
  assert.doesNotMatch(JSON.stringify([f, denied]), /correct-horse|npm_0123|wJalrXUtnFEMI|MIIEow/);
  // The same app directory given as a root filesystem.
  const root = await mkdtemp(join(tmpdir(), 'distill-secrets-'));
  try {
    await mkdir(join(root, 'app/.aws'), { recursive: true });
    for (const e of app) if (e.type === undefined) await writeFile(join(root, e.name), e.content ?? '');
    const r = await inspectRootfs(root);
    assert.deepEqual(r.secrets.map((s) => s.kind).sort(), [
      'aws-credentials',
      'dotenv',
      'npmrc-token',
      'private-key',
    ]);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
