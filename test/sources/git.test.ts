import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gitInfo, remoteSource } from '../../src/sources/app/git.js';
import { requireComponents, tempDir } from '../helpers/components.js';

describe('git facts of an app: the revision only for a clean tree, the source only for a remote', () => {
  test('remoteSource: URLs and ssh remotes, credentials removed; local paths are none', () => {
    const cases: [string, string | undefined][] = [
      ['https://github.com/acme/app.git', 'https://github.com/acme/app.git'],
      ['https://x-access-token:ghp_secret@github.com/acme/app.git', 'https://github.com/acme/app.git'],
      ['http://ci@git.example.com/app', 'http://git.example.com/app'],
      ['ssh://git@github.com/acme/app.git', 'ssh://git@github.com/acme/app.git'],
      ['ssh://git:hunter2@git.example.com:2222/app.git', 'ssh://git@git.example.com:2222/app.git'],
      ['git+ssh://git@host/app', 'git+ssh://git@host/app'],
      ['git://host/app.git', 'git://host/app.git'],
      ['git@github.com:acme/app.git', 'git@github.com:acme/app.git'],
      ['github.com:acme/app.git', 'github.com:acme/app.git'],
      ['/srv/git/app.git', undefined],
      ['../app.git', undefined],
      ['./a:b', undefined],
      ['file:///srv/git/app.git', undefined],
      ['C:\\repos\\app', undefined],
      ['C:/repos/app', undefined],
    ];
    for (const [url, want] of cases) assert.equal(remoteSource(url), want, url);
  });

  test('gitInfo on a real checkout: clean, then dirty by a change, a new file or a deletion, in this directory only', async (t) => {
    if (!requireComponents(t, 'git')) return;
    const dir = await tempDir('distill-git-');
    t.after(() => rm(dir, { recursive: true, force: true }));
    const git = (...args: string[]) =>
      execFileSync('git', ['-C', dir, '-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
        stdio: 'pipe',
        env: { ...process.env, GIT_COMMITTER_DATE: '1700000000 +0000', GIT_AUTHOR_DATE: '1700000000 +0000' },
      });
    assert.deepEqual(gitInfo(dir), {}, 'not a checkout');
    git('init', '-q');
    await mkdir(join(dir, 'app'));
    await mkdir(join(dir, 'other'));
    await writeFile(join(dir, 'app', 'index.js'), '1\n');
    await writeFile(join(dir, 'other', 'x.js'), '1\n');
    git('add', '.');
    git('commit', '-q', '-m', 'one');
    const rev = git('rev-parse', 'HEAD').toString().trim();
    const app = join(dir, 'app');
    assert.deepEqual(gitInfo(app), { revision: rev, time: 1_700_000_000, dirty: false });

    // What the build writes and installs is not a change.
    await mkdir(join(app, '.distill', 'image'), { recursive: true });
    await writeFile(join(app, '.distill', 'image', 'index.json'), '{}');
    await mkdir(join(app, 'node_modules', 'x'), { recursive: true });
    await writeFile(join(app, 'node_modules', 'x', 'i.js'), '');
    assert.equal(gitInfo(app).dirty, false);
    // Another directory of the repository is not this app.
    await writeFile(join(dir, 'other', 'x.js'), '2\n');
    assert.equal(gitInfo(app).dirty, false);
    assert.equal(gitInfo(dir).dirty, true);
    git('checkout', '-q', '--', 'other');

    for (const [what, change, undo] of [
      ['modified', () => writeFile(join(app, 'index.js'), '2\n'), () => git('checkout', '-q', '--', 'app')],
      ['untracked', () => writeFile(join(app, 'new.js'), ''), () => rm(join(app, 'new.js'))],
      ['deleted', () => rm(join(app, 'index.js')), () => git('checkout', '-q', '--', 'app')],
      [
        'staged',
        () => writeFile(join(app, 'index.js'), '3\n').then(() => git('add', 'app')),
        () => git('reset', '-q', '--hard'),
      ],
    ] as const) {
      await change();
      assert.equal(gitInfo(app).dirty, true, what);
      assert.equal(gitInfo(app).revision, rev, `${what}: the commit is still known`);
      await undo();
      assert.equal(gitInfo(app).dirty, false, `${what} undone`);
    }

    git('remote', 'add', 'origin', '/srv/git/app.git');
    assert.equal(gitInfo(app).source, undefined, 'a local path is no source');
    git('remote', 'set-url', 'origin', 'https://ci:tok@github.com/acme/app.git');
    assert.equal(gitInfo(app).source, 'https://github.com/acme/app.git');
  });
});
