import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { openTarget } from '../../src/debug/debug.js';
import { forwardInspector } from '../../src/debug/inspect.js';
import { NODE_PIDS } from '../../src/debug/session.js';
import { OWNER_LABEL } from '../../src/debug/target.js';
import { type ErrorCode, isDistillError } from '../../src/errors.js';
import { parseDockerHost } from '../../src/media/daemon/endpoint.js';
import { BIN } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { docker, importBusyboxImage, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';
import { runDistill, startDistill } from '../helpers/spawn-cli.js';
import { Tmux, waitForFile } from '../helpers/tmux.js';

/**
 * `distill debug` with the real Docker engine (issue 19): the example app, built by distill (no
 * shell in it), runs in a container without a network of its own; a toolbox joined to it lists
 * its processes, reads its files at /proc/1/root and reaches its port on 127.0.0.1, and is gone
 * afterwards, also when distill was killed with SIGKILL mid-session (the next run removes it).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAG = `h20dbg${process.pid}`;

/** The toolbox containers still in the engine (any owner). */
export function toolboxes(): string[] {
  return docker(['ps', '-aq', '--filter', `label=${OWNER_LABEL}`])
    .split('\n')
    .filter(Boolean);
}

describe('e2e: distill debug against a running distill-built app', { concurrency: false }, () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const image = `distill-e2e/${TAG}:1`;
  const app = `${TAG}-app`;
  const stopped = `${TAG}-stopped`;
  let ready = false;
  const debug = (args: string[], extra: NodeJS.ProcessEnv = {}) =>
    runDistill(['debug', '-q', ...args], { ...env, ...extra });

  before(async () => {
    dir = await tempDir('distill-debug-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    for (const c of [app, stopped]) {
      try {
        docker(['rm', '-f', c]);
      } catch {
        // not started
      }
    }
    removeImages([image]);
    await rm(dir, { recursive: true, force: true });
  });

  /** Builds the example app into the engine and starts it (once); false when skipped. */
  async function start(t: import('node:test').TestContext): Promise<boolean> {
    if (!requireComponents(t, 'docker') || !(await requireNetwork(t, DEBIAN, NPM))) return false;
    if (ready) return true;
    const src = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), src, { recursive: true });
    await rm(join(src, '.distill'), { recursive: true, force: true });
    const r = await runDistill(['build', src, '-q', '-o', `docker-daemon:${image}`], env);
    assert.equal(r.code, 0, r.stderr);
    docker(['run', '-d', '--name', app, '--network', 'none', '-e', 'PORT=8085', image]);
    docker(['create', '--name', stopped, '--network', 'none', image]);
    ready = true;
    return true;
  }

  test("-- ps lists the app's processes: PID 1 (tini) running node, the node process itself", async (t) => {
    if (!(await start(t))) return;
    assert.throws(() => docker(['exec', app, 'sh', '-c', 'true']), 'the app image has no shell of its own');
    const r = await debug([app, '--', 'ps']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.match(lines[0] ?? '', /PID\s+USER\s+COMMAND/);
    const pid1 = lines.find((l) => /^\s*1\s/.test(l));
    assert.match(pid1 ?? '', /^\s*1\s+nonroot\s+.*\/nodejs\/bin\/node index\.js/, r.stdout);
    assert.ok(
      lines.some((l) =>
        /^\s*\d+\s+nonroot\s+\{node[^}]*\} \/nodejs\/bin\/node index\.js|^\s*\d+\s+nonroot\s+\/nodejs\/bin\/node index\.js/.test(
          l,
        ),
      ),
      `a node process of the app: ${r.stdout}`,
    );
    assert.deepEqual(toolboxes(), [], 'the toolbox is removed at the end');
  });

  test("-- cat /proc/1/root/app/package.json prints the app's file", async (t) => {
    if (!(await start(t))) return;
    const r = await debug([app, '--', 'cat', '/proc/1/root/app/package.json']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout).name, 'hello');
  });

  test('-- wget -qO- 127.0.0.1:PORT reaches the app over its own network', async (t) => {
    if (!(await start(t))) return;
    const r = await debug([app, '--', 'wget', '-qO-', '127.0.0.1:8085']);
    assert.equal(r.code, 0, r.stderr);
    const body = JSON.parse(r.stdout);
    assert.equal(body.hello, 'world');
    assert.equal(body.uid, 65532);
  });

  test("a command's stdout and stderr stay apart and its exit status is distill's", async (t) => {
    if (!(await start(t))) return;
    const r = await debug([app, '--', 'sh', '-c', 'echo out; echo err >&2; exit 7']);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.deepEqual(toolboxes(), []);
  });

  test('SIGKILL mid-session leaves the toolbox; the next run removes it', async (t) => {
    if (!(await start(t))) return;
    const { child, done } = startDistill(['debug', '-q', app, '--', 'sleep', '300'], env);
    let left: string[] = [];
    for (let i = 0; i < 600 && left.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      left = docker(['ps', '-q', '--filter', `label=${OWNER_LABEL}`])
        .split('\n')
        .filter(Boolean);
    }
    assert.equal(left.length, 1, 'the toolbox of the session is running');
    child.kill('SIGKILL');
    await done;
    assert.deepEqual(
      toolboxes(),
      left.map((id) => id.slice(0, 12)),
      'a killed distill cannot clean up',
    );
    const r = await debug([app, '--', 'true']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(toolboxes(), [], 'the next run removed what the killed one left');
  });

  test("a live session's toolbox survives another run's sweep; Ctrl-C (SIGINT) removes it", async (t) => {
    if (!(await start(t))) return;
    const { child, done } = startDistill(['debug', '-q', app, '--', 'sleep', '300'], env);
    let live: string[] = [];
    for (let i = 0; i < 600 && live.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      live = toolboxes();
    }
    assert.equal(live.length, 1, "the session's toolbox is up");
    const other = await debug([app, '--', 'true']);
    assert.equal(other.code, 0, other.stderr);
    assert.deepEqual(toolboxes(), live, 'the sweep left the live session alone');
    child.kill('SIGINT');
    const r = await done;
    assert.equal(r.code, -1, 'distill ends by the signal, as without a handler');
    assert.deepEqual(toolboxes(), [], 'and removed its toolbox first');
  });

  test('errors: an unknown container, a stopped one, no engine: one line each, exit 1', async (t) => {
    if (!(await start(t))) return;
    const unknown = await debug([`${TAG}-nope`, '--', 'true']);
    assert.equal(unknown.code, 1);
    assert.match(
      unknown.stderr,
      /^distill: the Docker engine at .* has no container "h20dbg\d+-nope"; list the running ones with docker ps\n$/,
    );
    const notRunning = await debug([stopped, '--', 'true']);
    assert.equal(notRunning.code, 1);
    assert.match(
      notRunning.stderr,
      /^distill: the container h20dbg\d+-stopped is created, not running: .*\n$/,
    );
    const noEngine = await debug([app, '--', 'true'], { DOCKER_HOST: `unix://${join(dir, 'no.sock')}` });
    assert.equal(noEngine.code, 1);
    assert.match(noEngine.stderr, /^distill: .*no\.sock.*\n$/);
    assert.equal(noEngine.stderr.split('\n').length, 2, noEngine.stderr);
    // The library's codes behind those lines.
    const code = (c: string) => (e: unknown) => isDistillError(e, c as ErrorCode);
    await assert.rejects(openTarget(`${TAG}-nope`, undefined), code('CONTAINER_NOT_FOUND'));
    await assert.rejects(openTarget(stopped, undefined), code('CONTAINER_NOT_RUNNING'));
    await assert.rejects(
      openTarget(app, { endpoint: parseDockerHost(`unix://${join(dir, 'no.sock')}`) }),
      code('DAEMON_UNAVAILABLE'),
    );
  });

  test('an interactive session in a real terminal (tmux): prompt, $((6*7)), resize, exit 3', async (t) => {
    if (!(await start(t)) || !requireComponents(t, 'tmux')) return;
    const term = new Tmux(join(dir, 'tmux.sock'));
    const status = join(dir, 'tty-status');
    try {
      term.start(
        100,
        30,
        `env DISTILL_CACHE=${env.DISTILL_CACHE} ${process.execPath} ${BIN} debug -q ${app}; echo $? > ${status}`,
      );
      await term.waitFor(/\[debug \S+\] \/proc\/1\/root #$/m);
      term.type('echo $((6*7))');
      await term.waitFor(/^42$/m);
      const before = term.size();
      term.type('stty size');
      await term.waitFor(new RegExp(`^${before}$`, 'm'));
      term.resize(120, 40);
      const resized = term.size();
      assert.notEqual(resized, before);
      term.type('stty size');
      await term.waitFor(new RegExp(`^${resized}$`, 'm'));
      term.type('exit 3');
      const code = await waitForFile(status);
      assert.equal(code.trim(), '3', "the shell's exit status is distill's");
      const screen = term.lastScreen;
      assert.match(
        screen,
        /distill debug: \S+ \(distill-e2e\/\S+\): PID 1 is tini as nonroot \(uid 65532\), node is PID \d+; its files are at \/proc\/1\/root/,
      );
      if (process.env.DISTILL_DEBUG_RECORDING)
        await writeFile(process.env.DISTILL_DEBUG_RECORDING, `${screen.trimEnd()}\n`);
    } finally {
      term.kill();
    }
    assert.deepEqual(toolboxes(), []);
  });

  test('--inspect: a CDP client through the forward evaluates in the target; Ctrl-C closes it', async (t) => {
    if (!(await start(t))) return;
    const { child, done } = startDistill(['debug', '-q', app, '--inspect', '127.0.0.1:0'], env);
    let out = '';
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout?.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /WebSocket: (ws:\/\/\S+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      done.then((r) => reject(new Error(`distill ended first: ${r.code} ${r.stderr}`)), reject);
    });
    assert.match(
      out,
      /DevTools: devtools:\/\/devtools\/bundled\/js_app\.html\?experiments=true&v8only=true&ws=127\.0\.0\.1:\d+\//,
    );
    assert.match(out, /chrome:\/\/inspect/);
    const [pid, hostname] = await evaluate(url, ['process.pid', "require('node:os').hostname()"]);
    const ps = await debug([app, '--', 'sh', '-c', `${NODE_PIDS} | head -n 1`]);
    assert.equal(String(pid), ps.stdout.trim(), "the pid of the target's node, in its PID namespace");
    assert.equal(hostname, docker(['inspect', '-f', '{{.Config.Hostname}}', app]).trim());
    child.kill('SIGINT');
    await done;
    assert.deepEqual(toolboxes(), [], 'Ctrl-C removed the toolbox of the forward');
  });

  test('--inspect on a container without node: NODE_NOT_RUNNING, one line, exit 1', async (t) => {
    if (!(await start(t))) return;
    const img = `distill-e2e/${TAG}-busybox:1`;
    await importBusyboxImage(dir, img, 'no node here');
    docker([
      'run',
      '-d',
      '--name',
      `${TAG}-nonode`,
      '--network',
      'none',
      img,
      '/bin/busybox',
      'sleep',
      '300',
    ]);
    try {
      const r = await debug([`${TAG}-nonode`, '--inspect', '127.0.0.1:0']);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /^distill: the container h20dbg\d+-nonode runs no node process, so there is no Node inspector to open; --inspect is for Node apps\n$/,
      );
      const { client, target } = await openTarget(`${TAG}-nonode`, undefined);
      const toolbox = docker([
        'images',
        '--filter',
        'label=dev.distill.toolbox',
        '--format',
        '{{.Repository}}:{{.Tag}}',
      ]).split('\n')[0];
      assert.ok(toolbox, 'the run above loaded the toolbox');
      await assert.rejects(
        forwardInspector(client, { target, toolbox, listen: { host: '127.0.0.1', port: 0 } }),
        (e: unknown) => isDistillError(e, 'NODE_NOT_RUNNING'),
      );
    } finally {
      docker(['rm', '-f', `${TAG}-nonode`]);
      removeImages([img]);
    }
    assert.deepEqual(toolboxes(), []);
  });

  test('--copy-image: one more layer and a new config, /busybox/sh runs, a debug variant, inspect --deny shell exits 3', async (t) => {
    if (!(await start(t))) return;
    const layout = join(dir, 'variant');
    const copy = `distill-e2e/${TAG}:1-debug`;
    const r = await runDistill(
      [
        'debug',
        '-q',
        '--copy-image',
        `docker-daemon:${image}`,
        '-o',
        `oci:${layout}:debug`,
        '-o',
        `docker-daemon:${copy}`,
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const orig = JSON.parse(docker(['image', 'inspect', image]))[0];
    const variant = JSON.parse(docker(['image', 'inspect', copy]))[0];
    assert.deepEqual(variant.RootFS.Layers.slice(0, -1), orig.RootFS.Layers, 'the original layers, in order');
    assert.equal(variant.RootFS.Layers.length, orig.RootFS.Layers.length + 1, 'and exactly one more');
    assert.notEqual(variant.Id, orig.Id, 'a new config');
    assert.deepEqual(variant.Config.Entrypoint, orig.Config.Entrypoint, 'the entrypoint untouched');
    assert.deepEqual(variant.Config.Cmd, orig.Config.Cmd);
    assert.equal(variant.Config.Labels['dev.distill.debug-variant'], 'true');
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(
      await readFile(join(layout, 'blobs', ...index.manifests[0].digest.split(':')), 'utf8'),
    );
    assert.equal(manifest.annotations['dev.distill.debug-variant'], 'true', 'the manifest says so');
    assert.equal(
      docker([
        'run',
        '--rm',
        '--network',
        'none',
        '--entrypoint',
        '/busybox/sh',
        copy,
        '-c',
        'echo $((6*7)) $(grep -c \'"name": "hello"\' /app/package.json)',
      ]).trim(),
      '42 1',
    );
    const deny = await runDistill(['inspect', '-q', `docker-daemon:${copy}`, '--deny', 'shell'], env);
    assert.equal(deny.code, 3, deny.stdout + deny.stderr);
    assert.match(deny.stderr + deny.stdout, /\/busybox\/sh/);
    const clean = await runDistill(['inspect', '-q', `docker-daemon:${image}`, '--deny', 'shell'], env);
    assert.equal(clean.code, 0, 'the original has no shell');
    removeImages([copy]);
  });
});

/** Evaluates expressions in a Node inspector with a CDP client (ws), as DevTools would. */
async function evaluate(url: string, expressions: string[]): Promise<unknown[]> {
  const ws = new WebSocket(url);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  const results: unknown[] = [];
  let id = 0;
  for (const expression of expressions) {
    const mine = ++id;
    const answer = new Promise<{ result: { result: { value: unknown } } }>((resolve) => {
      const onMessage = (data: Buffer) => {
        const m = JSON.parse(data.toString());
        if (m.id !== mine) return;
        ws.off('message', onMessage);
        resolve(m);
      };
      ws.on('message', onMessage);
    });
    ws.send(
      JSON.stringify({
        id: mine,
        method: 'Runtime.evaluate',
        params: { expression, includeCommandLineAPI: true },
      }),
    );
    results.push((await answer).result.result.value);
  }
  ws.close();
  return results;
}
