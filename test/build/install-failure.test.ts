import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  buildLogTails,
  failedAddon,
  nativeCompileFailed,
  withCompileTarget,
} from '../../src/build/app/install-failure.js';
import { DistillError, isDistillError } from '../../src/errors.js';
import { tempDir } from '../helpers/components.js';

/** The ends of failed installs as npm, pnpm and yarn print them when an addon does not compile. */
const NPM = `npm error code 1
npm error path /tmp/distill-build/0a1b/node_modules/better-sqlite3
npm error command failed
npm error command sh -c prebuild-install || node-gyp rebuild --release
npm error   CXX(target) Release/obj.target/better_sqlite3/src/better_sqlite3.o
npm error ../src/better_sqlite3.cpp:43:10: error: 'class v8::Object' has no member named 'GetPrototype'
npm error make: *** [better_sqlite3.target.mk:119: Release/obj.target/better_sqlite3/src/better_sqlite3.o] Error 1
npm error gyp ERR! build error
npm error gyp ERR! stack Error: \`make\` failed with exit code: 2
npm error gyp ERR! stack at ChildProcess.<anonymous> (/x/npm/node_modules/node-gyp/lib/build.js:216:23)
npm error gyp ERR! cwd /tmp/distill-build/0a1b/node_modules/better-sqlite3`;
const PNPM = `node_modules/.pnpm/bcrypt@5.1.1/node_modules/bcrypt install$ node-pre-gyp install --fallback-to-build
node_modules/.pnpm/bcrypt@5.1.1/node_modules/bcrypt install: gyp ERR! configure error
 ELIFECYCLE  Command failed with exit code 1.`;
const BERRY = `➤ YN0000: ┌ Link step
➤ YN0007: │ better-sqlite3@npm:11.3.0 must be built because it never has been before or the last one failed
➤ YN0009: │ better-sqlite3@npm:11.3.0 couldn't be built successfully (exit code 1, logs can be found here: LOG)
➤ YN0000: └ Completed in 1m 12s`;

const TARGET = { version: '26.12.1', abi: '147', origin: 'engines.node in package.json ">=18.0.0"' };

describe('a failed install: the Node a native addon was compiled for, and the logs yarn keeps in files', () => {
  test('native compile failures are told from other failures, and name the addon', () => {
    assert.equal(nativeCompileFailed(NPM), true);
    assert.equal(failedAddon(NPM), 'better-sqlite3');
    assert.equal(nativeCompileFailed(PNPM), true);
    assert.equal(failedAddon(PNPM), 'bcrypt');
    assert.equal(failedAddon(BERRY), 'better-sqlite3');
    assert.equal(nativeCompileFailed(BERRY), false, 'until its build log is read');
    assert.equal(nativeCompileFailed('npm error 404 Not Found - GET https://registry.npmjs.org/nope'), false);
    assert.equal(failedAddon('npm error code E404'), undefined);
  });

  test('the error names the Node version, its ABI and where the version came from', () => {
    const err = new DistillError(
      'APP_BUILD_FAILED',
      `npm 11.6.2 ci failed (exit code 1); its output follows\n${NPM}`,
    );
    const wrapped = withCompileTarget(err, TARGET);
    assert.ok(isDistillError(wrapped, 'APP_BUILD_FAILED'));
    assert.equal(wrapped.cause, err);
    const [first, second] = wrapped.message.split('\n');
    assert.equal(
      first,
      'better-sqlite3 did not compile for Node 26.12.1 (ABI: NODE_MODULE_VERSION 147), chosen from engines.node in package.json ">=18.0.0"; if better-sqlite3 does not support that Node yet, choose a release it supports (--node, .node-version or engines.node) or a version of better-sqlite3 that supports this one',
    );
    assert.equal(second, 'npm 11.6.2 ci failed (exit code 1); its output follows');
    assert.ok(wrapped.message.endsWith(NPM));
    // Other failures, and other errors, are left as they are.
    const other = new DistillError('APP_BUILD_FAILED', 'npm ci failed (exit code 1)\nnpm error code E404');
    assert.equal(withCompileTarget(other, TARGET), other);
    const invalid = new DistillError('APP_INVALID', NPM);
    assert.equal(withCompileTarget(invalid, TARGET), invalid);
  });

  test("yarn berry's build logs are read before the scratch copy goes", async (t) => {
    const dir = await tempDir('distill-install-failure-');
    t.after(() => rm(dir, { recursive: true, force: true }));
    const log = join(dir, 'xfs-1a2b', 'build.log');
    await mkdir(join(log, '..'), { recursive: true });
    await writeFile(
      log,
      `${'# noise\n'.repeat(2000)}gyp ERR! build error\ngyp ERR! cwd /s/node_modules/better-sqlite3\n`,
    );
    const output = BERRY.replace('LOG', log);
    const tails = await buildLogTails(output);
    assert.ok(tails.startsWith(`\n--- ${log} (its end) ---\n`), tails.slice(0, 200));
    assert.ok(tails.endsWith('gyp ERR! cwd /s/node_modules/better-sqlite3'));
    assert.ok(tails.length < 8300, 'only the end of a long log');
    assert.equal(nativeCompileFailed(output + tails), true);
    assert.equal(await buildLogTails(BERRY.replace('LOG', join(dir, 'gone', 'build.log'))), '');
    assert.equal(await buildLogTails('npm error code 1'), '');
  });
});
