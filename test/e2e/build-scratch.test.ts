import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  HELLO_OFFLINE,
  offlineBuildArgs,
  offlineCliEnv,
  offlineReady,
  useOfflineWorld,
} from '../helpers/app-fixture.js';
import { BIN, distill } from '../helpers/cli.js';
import { IN_CI, tempDir } from '../helpers/components.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * The scratch copy an install runs in (src/build/app/scratch.ts), with the real npm: a build
 * interrupted during its install stops the install and leaves no copy behind; an install that
 * runs out of space on a RAM filesystem (a real, tiny tmpfs) is run again on disk, and one with
 * nowhere else to go is refused, though npm itself exits 0.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, ok: () => boolean, timeoutMs = 120_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('e2e: distill build and its scratch copy', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = await tempDir('distill-build-scratch-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('Ctrl-C during the install stops it and everything it started, and removes the copy', async (t) => {
    if (!(await requireNetwork(t, NPM, DEBIAN))) return;
    const app = join(dir, 'slow-install');
    const pidFile = join(dir, 'preinstall.pid');
    await mkdir(app, { recursive: true });
    // The app's own preinstall script stands for a long install: it records its pid and waits.
    const preinstall = `node -e "require('fs').writeFileSync(process.env.PIDFILE, String(process.pid)); setInterval(() => {}, 1000)"`;
    const pkg = { name: 'slow-install', version: '1.0.0', scripts: { preinstall } };
    await writeFile(join(app, 'package.json'), JSON.stringify(pkg));
    await writeFile(
      join(app, 'package-lock.json'),
      JSON.stringify({
        name: 'slow-install',
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name: 'slow-install', version: '1.0.0' } },
      }),
    );
    await writeFile(join(app, 'index.js'), '');
    const scratch = join(dir, 'scratch-int');
    const out = join(dir, 'out-int');
    const child = spawn(process.execPath, [BIN, 'build', app, '-o', `oci:${out}:latest`], {
      env: { ...process.env, ...env, DISTILL_SCRATCH: scratch, PIDFILE: pidFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    // The file exists a moment before its pid is written in it: wait for the number.
    await waitFor(
      'the preinstall script to start',
      () => existsSync(pidFile) && Number(readFileSync(pidFile, 'utf8')) > 0,
    );
    const scriptPid = Number(await readFile(pidFile, 'utf8'));
    assert.ok(alive(scriptPid));
    const copies = readdirSync(join(scratch, 'distill-build'));
    assert.equal(copies.length, 1, 'the install runs in one scratch copy');
    assert.match(stderr, new RegExp(`copied \\d+ files of .* into ${scratch}/distill-build/`));

    child.kill('SIGINT');
    const { code, signal } = await ended;
    // distill ends by the signal, as a process without handlers would (a shell shows 130).
    assert.equal(signal, 'SIGINT', `exit code ${code}; stderr: ${stderr}`);
    assert.deepEqual(readdirSync(join(scratch, 'distill-build')), [], 'the scratch copy is gone');
    await waitFor('the install script to be stopped', () => !alive(scriptPid), 5000);
    assert.equal(existsSync(out), false, 'no image was written');
  });

  test('an install that runs out of space on a RAM filesystem is run again on disk', async (t) => {
    if (!(await requireNetwork(t, NPM, DEBIAN))) return;
    if (process.getuid?.() !== 0) {
      const reason = 'mounting a tiny tmpfs needs root; .ci/run runs as root';
      if (IN_CI) throw new Error(`CI=true and this test ${reason}`);
      t.skip(reason);
      return;
    }
    const tiny = join(dir, 'tiny-ram');
    await mkdir(tiny, { recursive: true });
    // 1 MiB: package.json and the lockfile fit, express's node_modules (about 2 MB) does not.
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', tiny]);
    try {
      const disk = join(dir, 'scratch-disk');
      const app = join(dir, 'hello-tiny');
      await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
      const out = join(dir, 'out-tiny');
      // Only the tiny one: npm warns TAR_ENTRY_ERROR ENOSPC for each file it cannot write and
      // still exits 0; distill refuses the incomplete install.
      const full = await distill(['build', app, '-q', '-o', `oci:${out}:latest`], {
        ...env,
        DISTILL_SCRATCH: tiny,
      });
      assert.equal(full.code, 1, full.stderr);
      assert.match(
        full.stderr,
        new RegExp(
          `${tiny} ran out of space during the install; free some space there, or set DISTILL_SCRATCH to a directory with more room`,
        ),
      );
      assert.match(full.stderr, /could not write every file .*TAR_ENTRY_ERROR ENOSPC/);
      assert.equal(existsSync(out), false, 'no image was written');
      assert.deepEqual(readdirSync(join(tiny, 'distill-build')), []);

      const r = await distill(['build', app, '-o', `oci:${out}:latest`], {
        ...env,
        DISTILL_SCRATCH: `${tiny}:${disk}`,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, new RegExp(`into ${tiny}/distill-build/\\S+ \\(RAM\\)`));
      assert.match(r.stderr, new RegExp(`${tiny} ran out of space; installing again under ${disk}`));
      assert.match(r.stderr, new RegExp(`into ${disk}/distill-build/`));
      assert.match(r.stdout, /built sha256:[0-9a-f]{64}/);
      assert.ok(existsSync(join(out, 'index.json')));
      // Nothing is left in either place.
      assert.deepEqual(readdirSync(join(tiny, 'distill-build')), []);
      assert.deepEqual(readdirSync(join(disk, 'distill-build')), []);
    } finally {
      execFileSync('umount', [tiny]);
    }
  });
});

/**
 * Issue 13.6: a build killed with SIGKILL leaves its scratch copy (the app's files, in RAM when
 * the copy is on a tmpfs); the next build sweeps it, while a build running at the same time keeps
 * its own. Everything is served on 127.0.0.1 (test/helpers/app-fixture.ts), no network needed.
 */
describe('e2e: a killed build’s scratch copy is swept by the next build', () => {
  const fx = useOfflineWorld('distill-build-sweep-');
  const children: ChildProcess[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });

  /** An app whose preinstall writes its pid to PIDFILE_<name> and waits while WAIT_<name> exists. */
  async function waitingApp(name: string): Promise<string> {
    const app = join(fx.dir, name);
    await mkdir(app, { recursive: true });
    const preinstall = `node -e "const fs=require('fs');fs.writeFileSync(process.env.PIDFILE_${name},String(process.pid));setInterval(()=>{if(!fs.existsSync(process.env.WAIT_${name}))process.exit(0)},100)"`;
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name, version: '1.0.0', scripts: { preinstall } }),
    );
    await writeFile(
      join(app, 'package-lock.json'),
      JSON.stringify({
        name,
        version: '1.0.0',
        lockfileVersion: 3,
        requires: true,
        packages: { '': { name, version: '1.0.0' } },
      }),
    );
    await writeFile(join(app, 'index.js'), `console.log(${JSON.stringify(name)});\n`);
    return app;
  }

  test('SIGKILL during the install leaves the copy; the next build removes it and spares a running one', async (t) => {
    if (!offlineReady(t)) return;
    const world = await fx.world();
    const scratch = join(fx.dir, 'scratch');
    const copies = () => readdirSync(join(scratch, 'distill-build')).sort();
    const env = (cache: string): NodeJS.ProcessEnv => ({
      ...process.env,
      ...offlineCliEnv(world, scratch, join(fx.dir, cache)),
      PIDFILE_killed: join(fx.dir, 'killed.pid'),
      PIDFILE_running: join(fx.dir, 'running.pid'),
      WAIT_killed: join(fx.dir, 'wait-killed'),
      WAIT_running: join(fx.dir, 'wait-running'),
    });
    const args = (app: string, out: string) => [
      BIN,
      ...offlineBuildArgs(world, fx.keyring(), app, '-q'),
      '-o',
      `oci:${join(fx.dir, out)}:latest`,
    ];
    await writeFile(join(fx.dir, 'wait-killed'), '');
    await writeFile(join(fx.dir, 'wait-running'), '');
    const start = (app: string, out: string, cache: string) => {
      const child = spawn(process.execPath, args(app, out), {
        env: env(cache),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      child.stderr?.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const ended = new Promise<{ code: number | null; stderr: string }>((r) =>
        child.on('exit', (code) => r({ code, stderr })),
      );
      return { child, ended };
    };

    const killed = start(await waitingApp('killed'), 'out-killed', 'cache-killed');
    await waitFor(
      'the killed build’s install',
      () =>
        existsSync(join(fx.dir, 'killed.pid')) &&
        Number(readFileSync(join(fx.dir, 'killed.pid'), 'utf8')) > 0,
    );
    const running = start(await waitingApp('running'), 'out-running', 'cache-running');
    await waitFor(
      'the running build’s install',
      () =>
        existsSync(join(fx.dir, 'running.pid')) &&
        Number(readFileSync(join(fx.dir, 'running.pid'), 'utf8')) > 0,
    );
    assert.equal(copies().length, 2, 'each install has its copy');
    const [killedCopy] = copies().filter(
      (c) =>
        existsSync(join(scratch, 'distill-build', c, 'package.json')) &&
        readFileSync(join(scratch, 'distill-build', c, 'package.json'), 'utf8').includes('"killed"'),
    );
    assert.ok(killedCopy);

    killed.child.kill('SIGKILL');
    await killed.ended;
    // The killed build's install lives on in its own process group: end it as the machine would.
    const scriptPid = Number(readFileSync(join(fx.dir, 'killed.pid'), 'utf8'));
    const group = Number(readFileSync(`/proc/${scriptPid}/stat`, 'utf8').split(') ')[1]!.split(' ')[2]);
    process.kill(-group, 'SIGKILL');
    await waitFor('the killed install to end', () => !alive(scriptPid), 10_000);
    assert.ok(copies().includes(killedCopy), 'kill -9 leaves the copy');

    // Another app, built while `running` still installs.
    const other = join(fx.dir, 'hello-offline');
    await cp(HELLO_OFFLINE, other, { recursive: true });
    // Not spawnSync: the registry answering it is served by this process.
    const next = await start(other, 'out-next', 'cache-next').ended;
    assert.equal(next.code, 0, next.stderr);
    assert.ok(!copies().includes(killedCopy), 'the next build swept the killed build’s copy');
    assert.deepEqual(readdirSync(join(scratch, 'distill-build.owners')).includes(killedCopy), false);
    assert.equal(copies().length, 1, 'the running build’s copy is still there');
    assert.ok(alive(Number(readFileSync(join(fx.dir, 'running.pid'), 'utf8'))));

    // The running build goes on undisturbed: its image is the one an undisturbed build makes.
    await rm(join(fx.dir, 'wait-running'));
    const done = await running.ended;
    assert.equal(done.code, 0, done.stderr);
    const again = await start(join(fx.dir, 'running'), 'out-again', 'cache-again').ended;
    assert.equal(again.code, 0, again.stderr);
    const digest = (out: string) =>
      JSON.parse(readFileSync(join(fx.dir, out, 'index.json'), 'utf8')).manifests[0].digest as string;
    assert.equal(digest('out-running'), digest('out-again'));
    assert.deepEqual(copies(), [], 'nothing left once every build is done');
  });
});
