import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { lstat, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pushToRegistry } from '../../src/media/registry/index.js';
import { digestHex } from '../../src/oci/digest.js';
import { parseDockerReference } from '../../src/ref/docker.js';
import { type AptRepo, makeAptRepo } from '../helpers/aptrepo.js';
import { PACKAGES } from '../helpers/base-fixture.js';
import type { CliResult } from '../helpers/cli.js';
import { type RunningRegistry, requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { makeImage, prngLayer } from '../helpers/registry-images.js';
import { runDistill, startDistill } from '../helpers/spawn-cli.js';
import { type StallProxy, startStallProxy } from '../helpers/stall-proxy.js';

/**
 * `kill -9` leftovers (issue 13): real distill processes are stuck mid-download behind proxies
 * that stall responses, some are killed with SIGKILL, and later distill runs must remove what
 * the killed ones left (partial files in the store's tmp/, beside an archive, in a layout's
 * blobs/) while processes that were running all along finish undisturbed with the right digest.
 * The cases are data (`KILLED`, `LIVE`): the build's scratch copy can be added as one more.
 */
const MiB = 1024 * 1024;

interface Case {
  name: string;
  args: (ctx: Ctx) => string[];
  /** Where the process's own temp file appears (its name starts with the owner's pid). */
  temps: (ctx: Ctx) => { dir: string; prefix: string };
}

interface Ctx {
  cache: string;
  out: string;
  image: string;
  repoArgs: string[];
}

const storeTemp = (ctx: Ctx) => ({ dir: join(ctx.cache, 'tmp'), prefix: '' });
const besideArchive = (ctx: Ctx) => ({ dir: ctx.out, prefix: '.' });

const KILLED: Case[] = [
  {
    name: 'copy to oci: (a layout blob half written)',
    args: (c) => ['copy', '-q', `docker://${c.image}`, `oci:${join(c.out, 'layout')}:x`],
    temps: (c) => ({ dir: join(c.out, 'layout', 'blobs', 'sha256'), prefix: '.tmp-' }),
  },
  {
    name: 'copy to docker-archive: (an archive half written)',
    args: (c) => ['copy', '-q', `docker://${c.image}`, `docker-archive:${join(c.out, 'killed.tar')}:big:1`],
    temps: besideArchive,
  },
  {
    name: 'base (a .deb half downloaded into the store)',
    args: (c) => ['base', 'static', '-q', ...c.repoArgs, '-o', `oci:${join(c.out, 'base-killed')}:x`],
    temps: storeTemp,
  },
];

const LIVE: Case[] = [
  {
    name: 'copy to oci-archive:',
    args: (c) => ['copy', '-q', `docker://${c.image}`, `oci-archive:${join(c.out, 'live.tar')}:x`],
    temps: besideArchive,
  },
  {
    name: 'base',
    args: (c) => ['base', 'static', '-q', ...c.repoArgs, '-o', `oci:${join(c.out, 'base-live')}:x`],
    temps: storeTemp,
  },
];

async function ownedBy(where: { dir: string; prefix: string }, pid: number | undefined): Promise<string[]> {
  const names = await readdir(where.dir).catch(() => [] as string[]);
  return names.filter((n) => n.startsWith(`${where.prefix}${pid}-`));
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every name under `dir` that looks like a temp file of distill's. */
async function tempsUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  const visit = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (/^\.tmp-|\.tmp$/.test(e.name)) found.push(join(d, e.name));
      if (e.isDirectory()) await visit(join(d, e.name));
    }
  };
  await visit(dir);
  return found;
}

type Running = Case & ReturnType<typeof startDistill>;

/** Starts each case and waits until it is stuck with a partial temp file of its own. */
async function startStuck(ctx: Ctx, cases: Case[], children: ChildProcess[]): Promise<Running[]> {
  const running = cases.map((c) => {
    const p = startDistill(c.args(ctx), { DISTILL_CACHE: ctx.cache });
    children.push(p.child);
    return { ...c, ...p };
  });
  for (const p of running) {
    await until(`${p.name} to be stuck with a partial temp file`, async () => {
      for (const n of await ownedBy(p.temps(ctx), p.child.pid)) {
        const st = await lstat(join(p.temps(ctx).dir, n)).catch(() => undefined);
        if (st?.isFile() && st.size > 0) return true;
      }
      return false;
    });
  }
  return running;
}

/** Kills each with SIGKILL; returns what each left. */
async function killAll(ctx: Ctx, killed: Running[]): Promise<Map<string, string[]>> {
  const leftovers = new Map<string, string[]>();
  for (const p of killed) {
    leftovers.set(p.name, await ownedBy(p.temps(ctx), p.child.pid));
    p.child.kill('SIGKILL');
    const r = await p.done;
    assert.equal(r.code, -1, `${p.name} was killed`);
    assert.ok(leftovers.get(p.name)!.length > 0, `${p.name} left a partial file`);
  }
  return leftovers;
}

async function digestOfRef(ref: string, env: NodeJS.ProcessEnv): Promise<string> {
  const r = await runDistill(['digest', ref], env);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

describe('e2e: leftovers of processes killed with SIGKILL are swept by the next run', () => {
  let dir = '';
  let registry: RunningRegistry | undefined;
  let repo: AptRepo | undefined;
  let regProxy: StallProxy | undefined;
  let aptProxy: StallProxy | undefined;
  const children: ChildProcess[] = [];

  before(async () => {
    dir = await tempDir('distill-kill-');
  });
  after(async () => {
    for (const c of children) c.kill('SIGKILL');
    await regProxy?.stop();
    await aptProxy?.stop();
    await registry?.stop();
    await repo?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** A registry with an 8 MiB image and the local apt repository, each behind a stalling proxy. */
  async function setUp(): Promise<{ ctx: Ctx; pushed: string; direct: string }> {
    registry = await startRegistry();
    const layer = await prngLayer(8 * MiB, 13);
    const direct = `${registry.host}/distill/big:1`;
    const pushed = await pushToRegistry(parseDockerReference(direct), makeImage([layer]));
    repo = await makeAptRepo({ packages: PACKAGES });
    const keyring = join(dir, 'key.asc');
    await writeFile(keyring, repo.publicKey);
    regProxy = await startStallProxy(`http://${registry.host}`);
    aptProxy = await startStallProxy(repo.url);
    regProxy.stall(
      new RegExp(`^GET /v2/distill/big/blobs/sha256:${digestHex(layer.descriptor.digest)}`),
      MiB,
    );
    aptProxy.stall(/^GET \S+\.deb$/, 100);
    const ctx: Ctx = {
      cache: join(dir, 'cache'),
      out: join(dir, 'out'),
      image: `${regProxy.host}/distill/big:1`,
      repoArgs: ['--mirror', aptProxy.url, '--suite', repo.suite, '--keyring', keyring, '--arch', 'amd64'],
    };
    await mkdir(ctx.out, { recursive: true });
    return { ctx, pushed: pushed.digest, direct };
  }

  test('SIGKILL during copy and base; a concurrent copy and base are not disturbed', {
    timeout: 600_000,
  }, async (t) => {
    if (!requireComponents(t, 'docker-registry', 'dpkg-deb', 'apt-ftparchive', 'gpg', 'xz')) return;
    const { ctx, pushed, direct } = await setUp();
    const env = { DISTILL_CACHE: ctx.cache };
    const killed = await startStuck(ctx, KILLED, children);
    const live = await startStuck(ctx, LIVE, children);
    const leftovers = await killAll(ctx, killed);

    // The next runs: any command opens the store (and sweeps its tmp/); writing to a layout or
    // beside an archive sweeps there. The live processes are still stuck meanwhile.
    const next: CliResult[] = [
      await runDistill(['cache', 'du', '--format', 'json'], env),
      await runDistill(['copy', '-q', `docker://${direct}`, `oci:${join(ctx.out, 'layout')}:x`], env),
      await runDistill(
        ['copy', '-q', `docker://${direct}`, `docker-archive:${join(ctx.out, 'killed.tar')}:big:1`],
        env,
      ),
    ];
    for (const r of next) assert.equal(r.code, 0, r.stderr);
    for (const p of killed) {
      const left = (await readdir(p.temps(ctx).dir)).filter((n) => leftovers.get(p.name)!.includes(n));
      assert.deepEqual(left, [], `what the killed ${p.name} left is gone`);
    }
    for (const p of live) {
      assert.ok(p.child.exitCode === null, `${p.name} is still running`);
      assert.ok(
        (await ownedBy(p.temps(ctx), p.child.pid)).length > 0,
        `the live ${p.name}'s temp file is kept`,
      );
    }

    regProxy!.release();
    aptProxy!.release();
    for (const r of await Promise.all(live.map((p) => p.done))) assert.equal(r.code, 0, r.stderr);
    for (const ref of [
      `oci-archive:${join(ctx.out, 'live.tar')}:x`,
      `oci:${join(ctx.out, 'layout')}:x`,
      `docker-archive:${join(ctx.out, 'killed.tar')}`,
    ]) {
      assert.equal(await digestOfRef(ref, env), pushed, ref);
    }
    // The base built meanwhile is the one an undisturbed run builds.
    const again = await runDistill(
      ['base', 'static', '-q', ...ctx.repoArgs, '-o', `oci:${join(ctx.out, 'base-again')}:x`],
      env,
    );
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      await digestOfRef(`oci:${join(ctx.out, 'base-live')}:x`, env),
      await digestOfRef(`oci:${join(ctx.out, 'base-again')}:x`, env),
    );
    assert.deepEqual(await tempsUnder(ctx.out), [], 'no temp file left in the outputs');
    assert.deepEqual(await readdir(join(ctx.cache, 'tmp')).catch(() => []), [], 'nor in the store');
  });
});
