import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FACTS_JSON_SCHEMA, type Facts, inspectImage } from '../../src/inspect/index.js';
import { dir, file, imageOf, schemaProblems, symlink, whiteout } from './helpers.js';

const TOKEN_VALUE = 'tok_9f8e7d6c5b4a';
const NPM_TOKEN_VALUE = 'npm_AbCdEf0123456789';
const DB_PASSWORD_VALUE = 'pw-hunter2-xyz';
const KEY_BODY = 'MIIEowIBAAKCAQEAsecretkeymaterial';

/** A distroless-like Debian image with a Node app on top, and a few mistakes in it. */
async function debianImage() {
  return imageOf({
    layers: [
      [
        dir('etc/'),
        symlink('etc/os-release', '../usr/lib/os-release'),
        file(
          'etc/passwd',
          'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n',
        ),
        dir('usr/lib/'),
        file(
          'usr/lib/os-release',
          'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nNAME="Debian GNU/Linux"\nVERSION_ID="13"\nID=debian\n',
        ),
        symlink('bin', 'usr/bin'),
        symlink('lib', 'usr/lib'),
        symlink('lib64', 'usr/lib64'),
        dir('usr/bin/'),
        file('usr/bin/dash', 'dash', 0o755),
        symlink('usr/bin/sh', 'dash'),
        file('usr/bin/passwd', 'passwd', 0o4755),
        file('usr/bin/wall', 'wall', 0o2755),
        file('usr/bin/curl', 'curl', 0o755),
        file('usr/bin/python3.13', 'python', 0o755),
        symlink('usr/bin/python3', 'python3.13'),
        file('usr/bin/dpkg', 'dpkg', 0o755),
        file('usr/bin/apt-get', 'apt', 0o755),
        file('usr/bin/not-executable-bash', 'x', 0o644),
        file('usr/bin/bash', 'bash but not executable', 0o644),
        dir('usr/lib/x86_64-linux-gnu/'),
        file(
          'usr/lib/x86_64-linux-gnu/libc.so.6',
          Buffer.concat([
            Buffer.alloc(5000, 0x7f),
            Buffer.from('GNU C Library (Debian GLIBC 2.41-12) stable release version 2.41.\n'),
          ]),
          0o755,
        ),
        file('usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', 'ld', 0o755),
        dir('usr/lib64/'),
        symlink('usr/lib64/ld-linux-x86-64.so.2', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'),
        dir('var/lib/dpkg/status.d/'),
        file(
          'var/lib/dpkg/status.d/libc6',
          'Package: libc6\nStatus: install ok installed\nVersion: 2.41-12\nArchitecture: amd64\n',
        ),
        file(
          'var/lib/dpkg/status.d/libc6.md5sums',
          'd41d8cd98f00b204e9800998ecf8427e  usr/lib/x86_64-linux-gnu/libc.so.6\n',
        ),
        file(
          'var/lib/dpkg/status.d/base-files',
          'Package: base-files\nVersion: 13.8+deb13u1\nArchitecture: amd64\n',
        ),
        dir('tmp/', 0o1777),
        dir('var/cache/open/', 0o777),
        file('etc/writable.conf', 'w', 0o666),
      ],
      [
        dir('nodejs/bin/'),
        file(
          'nodejs/bin/node',
          Buffer.concat([
            Buffer.alloc(70_000, 1),
            Buffer.from('https://nodejs.org/download/release/v24.11.1/node-v24.11.1-headers.tar.gz\0'),
            Buffer.alloc(70_000, 2),
          ]),
          0o755,
        ),
        dir('app/'),
        file('app/index.js', 'console.log(1)'),
        file('app/node_modules/express/package.json', '{"name":"express","version":"4.21.2"}'),
        file('app/node_modules/express/lib/package.json', '{"name":"not-a-root","version":"0"}'),
        file('app/node_modules/@types/node/package.json', '{"name":"@types/node","version":"24.0.1"}'),
        file('app/node_modules/broken/package.json', '{not json'),
        file('app/node_modules/.package-lock.json', '{}'),
        file(
          'app/.npmrc',
          `registry=https://registry.npmjs.org/\n//registry.npmjs.org/:_authToken=${NPM_TOKEN_VALUE}\n`,
        ),
        file('app/.env', `DB_PASSWORD=${DB_PASSWORD_VALUE}\n`),
        file('app/.env.example', 'DB_PASSWORD=\n'),
        file(
          'app/server.key',
          `-----BEGIN RSA PRIVATE KEY-----\n${KEY_BODY}\n-----END RSA PRIVATE KEY-----\n`,
        ),
        file(
          'app/public.pem',
          '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n',
        ),
        file('app/build.tar', 'b'.repeat(3000)),
        dir('root/.ssh/'),
        file(
          'root/.ssh/id_ed25519',
          `-----BEGIN OPENSSH PRIVATE KEY-----\n${KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n`,
        ),
      ],
      [whiteout('app/build.tar'), whiteout('root/.ssh/id_ed25519')],
    ],
    config: {
      User: 'nonroot',
      Env: [
        'PATH=/usr/local/bin:/usr/bin:/bin:/nodejs/bin',
        `API_TOKEN=${TOKEN_VALUE}`,
        'NODE_VERSION=99.0.0',
        `DATABASE_URL=postgres://app:${DB_PASSWORD_VALUE}@db:5432/app`,
        'POSTGRES_PASSWORD_FILE=/run/secrets/pg',
        'GPG_KEY=ABCDEF',
      ],
      Entrypoint: ['/nodejs/bin/node'],
      Cmd: ['index.js'],
      WorkingDir: '/app',
      ExposedPorts: { '8080/tcp': {}, '443/tcp': {} },
    },
    history: [
      { created_by: 'distill base debian13' },
      { created_by: 'ENV NODE_ENV=production', empty_layer: true },
      { created_by: 'COPY app /app' },
      { created_by: 'RUN rm build.tar' },
    ],
  });
}

test('facts of a Debian image: OS, glibc, shells, package managers, tools, modes, user, config', async () => {
  const image = await debianImage();
  const f = await inspectImage(image);
  assert.equal(f.schemaVersion, 2);
  assert.deepEqual(f.source, {
    kind: 'image',
    manifestDigest: image.manifest.digest,
    configDigest: image.config.digest,
    platform: 'linux/amd64',
  });
  assert.deepEqual(f.os, {
    id: 'debian',
    version: '13',
    codename: null,
    prettyName: 'Debian GNU/Linux 13 (trixie)',
    path: '/etc/os-release',
  });
  assert.deepEqual(f.libc, { family: 'glibc', version: '2.41', path: '/usr/lib/x86_64-linux-gnu/libc.so.6' });
  assert.deepEqual(f.shells, [
    { name: 'dash', path: '/bin/dash', target: '/usr/bin/dash', status: 'present' },
    { name: 'sh', path: '/bin/sh', target: '/usr/bin/dash', status: 'present' },
  ]);
  assert.deepEqual(
    f.packageManagers.map((p) => `${p.name} ${p.path}`),
    ['apt /bin/apt-get', 'dpkg /bin/dpkg'],
  );
  assert.deepEqual(
    f.lotl.map((t) => `${t.name} ${t.path} ${t.target}`),
    [
      'curl /bin/curl /usr/bin/curl',
      'python3 /bin/python3 /usr/bin/python3.13',
      'python3.13 /bin/python3.13 /usr/bin/python3.13',
    ],
  );
  assert.ok(f.lotl.every((t) => t.reason.length > 10));
  assert.deepEqual(f.setuid, [
    { path: '/usr/bin/passwd', mode: '4755', uid: 0, gid: 0, setuid: true, setgid: false },
    { path: '/usr/bin/wall', mode: '2755', uid: 0, gid: 0, setuid: false, setgid: true },
  ]);
  assert.deepEqual(f.worldWritable, [
    { path: '/etc/writable.conf', type: 'file', mode: '0666' },
    { path: '/var/cache/open', type: 'dir', mode: '0777' },
  ]);
  assert.equal(f.user, 'nonroot');
  assert.equal(f.runsAsRoot, false);
  assert.deepEqual(f.entrypoint, ['/nodejs/bin/node']);
  assert.deepEqual(f.cmd, ['index.js']);
  assert.equal(f.workingDir, '/app');
  assert.deepEqual(f.exposedPorts, ['443/tcp', '8080/tcp']);
  assert.deepEqual(f.node, { version: '24.11.1', source: 'binary', path: '/nodejs/bin/node' });
});

test('facts of a Debian image: packages from status.d and node_modules, layers, sizes, wasted bytes', async () => {
  const f = await inspectImage(await debianImage());
  assert.deepEqual(
    f.packages.map((p) => `${p.type} ${p.name} ${p.version} ${p.path}`),
    [
      'deb base-files 13.8+deb13u1 /var/lib/dpkg/status.d/base-files',
      'deb libc6 2.41-12 /var/lib/dpkg/status.d/libc6',
      'npm @types/node 24.0.1 /app/node_modules/@types/node',
      'npm express 4.21.2 /app/node_modules/express',
    ],
  );
  assert.deepEqual(f.packageDatabases, [{ type: 'deb', path: '/var/lib/dpkg/status.d', count: 2 }]);
  assert.match(f.warnings.join('\n'), /1 package.json files under node_modules could not be read/);
  assert.deepEqual(
    f.layers.map((l) => [l.index, l.createdBy, l.entries]),
    [
      [0, 'distill base debian13', 32],
      [1, 'COPY app /app', 17],
      [2, 'RUN rm build.tar', 2],
    ],
  );
  const image = await debianImage();
  assert.deepEqual(
    f.layers.map((l) => l.compressed),
    image.layers.map((l) => l.descriptor.size),
    'gzip layers: the blob sizes',
  );
  assert.equal(
    f.size.compressed,
    f.layers.reduce((n, l) => n + l.compressed!, 0),
  );
  assert.equal(
    f.size.uncompressed,
    f.layers.reduce((n, l) => n + l.uncompressed, 0),
  );
  assert.ok(f.layers.every((l) => l.digest?.startsWith('sha256:') && l.diffId?.startsWith('sha256:')));
  const keySize = `-----BEGIN OPENSSH PRIVATE KEY-----\n${KEY_BODY}\n-----END OPENSSH PRIVATE KEY-----\n`
    .length;
  assert.equal(f.wastedBytes, 3000 + keySize);
});

test('secrets are reported by name and kind, never by value', async () => {
  const f = await inspectImage(await debianImage());
  assert.deepEqual(
    f.secrets.map((s) => `${s.source} ${s.kind} ${s.location} layer=${s.layer} removed=${s.removed}`),
    [
      'config env API_TOKEN layer=null removed=false',
      'config url-credentials DATABASE_URL layer=null removed=false',
      'filesystem dotenv /app/.env layer=1 removed=false',
      'filesystem npmrc-token /app/.npmrc layer=1 removed=false',
      'filesystem private-key /app/server.key layer=1 removed=false',
      'filesystem private-key /root/.ssh/id_ed25519 layer=1 removed=true',
    ],
  );
  assert.ok(f.env.includes('API_TOKEN=<redacted>'));
  assert.ok(f.env.includes('DATABASE_URL=<redacted>'));
  assert.ok(f.env.includes('GPG_KEY=ABCDEF'), 'a public key fingerprint is not a secret');
  const json = JSON.stringify(f);
  for (const secret of [TOKEN_VALUE, NPM_TOKEN_VALUE, DB_PASSWORD_VALUE, KEY_BODY]) {
    assert.ok(!json.includes(secret), `the facts contain ${secret}`);
  }
});

test('facts are plain, deterministic JSON that conforms to the published schema', async () => {
  const a = await inspectImage(await debianImage());
  const b = await inspectImage(await debianImage());
  assert.equal(JSON.stringify(a), JSON.stringify(b));
  assert.deepEqual(JSON.parse(JSON.stringify(a)), a);
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, a), []);
  assert.notDeepEqual(schemaProblems(FACTS_JSON_SCHEMA, { ...a, runsAsRoot: 'no' }), []);
  const alpine = await inspectImage(await alpineImage());
  assert.deepEqual(schemaProblems(FACTS_JSON_SCHEMA, alpine), []);
});

async function alpineImage() {
  return imageOf({
    layers: [
      [
        file(
          'etc/os-release',
          'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.22.2\nPRETTY_NAME="Alpine Linux v3.22"\n',
        ),
        file('lib/ld-musl-x86_64.so.1', 'musl', 0o755),
        symlink('lib/libc.musl-x86_64.so.1', 'ld-musl-x86_64.so.1'),
        file('bin/busybox', 'busybox', 0o755),
        symlink('bin/sh', '/bin/busybox'),
        symlink('bin/ash', '/bin/busybox'),
        symlink('bin/base64', '/bin/busybox'),
        symlink('usr/bin/wget', '/bin/busybox'),
        file('sbin/apk', 'apk', 0o755),
        file(
          'lib/apk/db/installed',
          'C:Q1abc=\nP:musl\nV:1.2.5-r10\nA:x86_64\nS:1\n\nC:Q1def=\nP:busybox\nV:1.37.0-r19\nA:x86_64\nF:bin\nR:busybox\na:0:0:755\n',
        ),
        dir('tmp/', 0o1777),
      ],
      [
        file('usr/local/bin/node', 'no version string in here', 0o755),
        dir('usr/local/lib/node_modules/npm/bin/'),
        file('usr/local/lib/node_modules/npm/bin/npm-cli.js', '#!/usr/bin/env node', 0o755),
        symlink('usr/local/bin/npm', '../lib/node_modules/npm/bin/npm-cli.js'),
        file('usr/local/lib/node_modules/npm/package.json', '{"name":"npm","version":"11.6.2"}'),
      ],
    ],
    config: {
      Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'NODE_VERSION=24.11.1'],
    },
  });
}

test('facts of an Alpine image: musl from apk, busybox applets, apk, npm, root user', async () => {
  const f: Facts = await inspectImage(await alpineImage());
  assert.deepEqual(f.os, {
    id: 'alpine',
    version: '3.22.2',
    codename: null,
    prettyName: 'Alpine Linux v3.22',
    path: '/etc/os-release',
  });
  assert.deepEqual(f.libc, { family: 'musl', version: '1.2.5', path: '/lib/ld-musl-x86_64.so.1' });
  assert.deepEqual(
    f.shells.map((s) => `${s.name} ${s.path} -> ${s.target}`),
    ['ash /bin/ash -> /bin/busybox', 'busybox /bin/busybox -> null', 'sh /bin/sh -> /bin/busybox'],
  );
  assert.deepEqual(
    f.packageManagers.map((s) => `${s.name} ${s.path} -> ${s.target}`),
    [
      'apk /sbin/apk -> null',
      'npm /usr/local/bin/npm -> /usr/local/lib/node_modules/npm/bin/npm-cli.js',
      'npm /usr/local/lib/node_modules/npm/bin/npm-cli.js -> null',
    ],
  );
  assert.deepEqual(
    f.lotl.map((s) => `${s.name} ${s.path}`),
    ['base64 /bin/base64', 'busybox /bin/busybox', 'wget /usr/bin/wget'],
  );
  assert.deepEqual(
    f.packages.map((p) => `${p.type} ${p.name} ${p.version}`),
    ['apk busybox 1.37.0-r19', 'apk musl 1.2.5-r10', 'npm npm 11.6.2'],
  );
  assert.deepEqual(f.packageDatabases, [{ type: 'apk', path: '/lib/apk/db/installed', count: 2 }]);
  assert.equal(f.user, null);
  assert.equal(f.runsAsRoot, true);
  assert.deepEqual(f.worldWritable, []);
  assert.deepEqual(f.node, { version: '24.11.1', source: 'env', path: '/usr/local/bin/node' });
  assert.deepEqual(f.secrets, []);
  assert.deepEqual(f.warnings, []);
});

test('a static image: no libc, no shell, no OS file, numeric non-root user', async () => {
  const f = await inspectImage(
    await imageOf({
      layers: [[file('app', 'static binary', 0o755), dir('etc/'), file('etc/passwd', 'root:x:0:0::/:\n')]],
      config: { User: '1000:1000', Entrypoint: ['/app'] },
    }),
  );
  assert.deepEqual(f.libc, { family: 'none', version: null, path: null });
  assert.deepEqual(f.os, { id: null, version: null, codename: null, prettyName: null, path: null });
  assert.deepEqual([f.shells, f.packageManagers, f.lotl, f.packages], [[], [], [], []]);
  assert.equal(f.runsAsRoot, false);
  assert.equal(f.node, null);
  assert.deepEqual(f.warnings, []);
});

test('a user name missing from /etc/passwd makes runsAsRoot unknown, with a warning', async () => {
  const f = await inspectImage(
    await imageOf({ layers: [[file('etc/passwd', 'root:x:0:0::/:\n')]], config: { User: 'ghost' } }),
  );
  assert.equal(f.runsAsRoot, null);
  assert.match(f.warnings.join('\n'), /user "ghost" is not in \/etc\/passwd/);
});

test('package.json reads stop at maxPackageJsonFiles with a warning; an rpm database that cannot be read is listed, count null', async () => {
  const image = await imageOf({
    layers: [
      [
        file('srv/node_modules/a/package.json', '{"name":"a","version":"1.0.0"}'),
        file('srv/node_modules/b/package.json', '{"name":"b","version":"2.0.0"}'),
        file('srv/node_modules/c/package.json', '{"name":"c","version":"3.0.0"}'),
        file('var/lib/rpm/rpmdb.sqlite', 'SQLite format 3\0'),
        file('usr/bin/microdnf', 'm', 0o755),
      ],
    ],
  });
  const f = await inspectImage(image, { maxPackageJsonFiles: 2 });
  assert.deepEqual(
    f.packages.map((p) => p.name),
    ['a', 'b'],
  );
  assert.match(f.warnings.join('\n'), /more than 2 package.json files under node_modules; 1 were not read/);
  assert.deepEqual(f.packageDatabases, [{ type: 'rpm', path: '/var/lib/rpm/rpmdb.sqlite', count: null }]);
  assert.deepEqual(
    f.packageManagers.map((p) => p.name),
    ['microdnf'],
  );
  assert.equal((await inspectImage(image)).packages.length, 3);
});
