import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * Issue 17 point 5, the slim OS: for each item of the node-app base that could go, does Node
 * behave the same without it? The image's Node runs the same probes with the item there and with
 * it hidden (a tmpfs over a directory, /dev/null over a file), in the real Docker engine.
 * docs/IMAGE-SIZE.md ("Slim OS") records what each answer decided.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAG = `t${process.pid}`;

/** Times in several zones, the way apps print them: Date's own string (the process zone) and Intl. */
const TIME_PROBE = [
  'const d=new Date(Date.UTC(2026,6,1,12));',
  'console.log(JSON.stringify({s:d.toString(),off:d.getTimezoneOffset(),',
  "tokyo:d.toLocaleString('en-US',{timeZone:'Asia/Tokyo',timeZoneName:'long'}),",
  "ny:new Intl.DateTimeFormat('de-DE',{timeZone:'America/New_York',dateStyle:'full',timeStyle:'full'}).format(d),",
  "zones:Intl.supportedValuesOf('timeZone').length}))",
].join('');

/** What issue 17 asks to behave as before: the version, a report, an uncaught error's stack, a CPU profile. */
const NODE_PROBE = [
  "const fs=require('fs');const r=process.report.getReport();",
  "const {execFileSync}=require('child_process');",
  "let stack='';try{execFileSync(process.execPath,['-e','function f(){throw new Error(\"boom\")}f()'],{stdio:'pipe'})}catch(e){stack=String(e.stderr).split('\\n').filter(l=>/Error: boom|at f/.test(l)).map(l=>l.trim()).join('|')}",
  "execFileSync(process.execPath,['--cpu-prof','--cpu-prof-dir=/tmp/prof','-e','1'],{stdio:'pipe'});",
  "console.log(JSON.stringify({v:process.version,report:r.header.nodejsVersion,libc:r.header.glibcVersionRuntime,stack,prof:fs.readdirSync('/tmp/prof').length}))",
].join('');

describe('e2e: the slim OS of Node images', () => {
  let dir = '';
  let image = '';
  const images: string[] = [];
  before(async () => {
    dir = await tempDir('distill-slim-os-');
  });
  after(async () => {
    removeImages(images);
    await rm(dir, { recursive: true, force: true });
  });

  async function hello(t: Parameters<typeof requireComponents>[0]): Promise<boolean> {
    if (!requireComponents(t, 'docker') || !(await requireNetwork(t, DEBIAN, NPM))) return false;
    if (image !== '') return true;
    const app = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    const name = `distill-e2e/slim-os:${TAG}`;
    const r = await distill(['build', app, '-q', '-o', `docker-daemon:${name}`], {
      DISTILL_CACHE: join(dir, 'cache'),
    });
    assert.equal(r.code, 0, r.stderr);
    images.push(name);
    image = name;
    return true;
  }

  const node = (mounts: string[], env: string[], script: string) =>
    docker([
      'run',
      '--rm',
      '--network',
      'none',
      '--tmpfs',
      '/tmp:mode=1777',
      ...mounts,
      ...env.flatMap((e) => ['-e', e]),
      image,
      '-e',
      script,
    ]).trim();

  test('/usr/share/zoneinfo (tzdata): Node needs it for TZ=:FILE, not for IANA names or POSIX rules', async (t) => {
    if (!(await hello(t))) return;
    const hidden = ['--tmpfs', '/usr/share/zoneinfo'];
    // IANA names and POSIX rules: Node's built-in ICU (its own tz data) answers the same without the OS's.
    for (const tz of ['', 'UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'EST5EDT']) {
      const env = tz === '' ? [] : [`TZ=${tz}`];
      assert.equal(node(hidden, env, TIME_PROBE), node([], env, TIME_PROBE), `TZ=${tz}`);
    }
    // TZ=:/path names a zoneinfo file: without it the process zone silently becomes UTC.
    const env = ['TZ=:/usr/share/zoneinfo/Asia/Kolkata'];
    const withIt = JSON.parse(node([], env, TIME_PROBE)) as { off: number };
    const without = JSON.parse(node(hidden, env, TIME_PROBE)) as { off: number };
    assert.equal(withIt.off, -330);
    assert.equal(without.off, 0, 'tzdata stays: TZ=:FILE (and glibc localtime in native addons) read it');
  });

  test('what Node never reads is left out (gdb scripts, lintian overrides); Node does all issue 17 lists without it', async (t) => {
    if (!(await hello(t))) return;
    const gone = ['/usr/share/gcc', '/usr/share/gdb', '/usr/share/lintian'];
    const there = node(
      [],
      [],
      `console.log(${JSON.stringify(gone)}.filter((p)=>require('fs').existsSync(p)).join(','))`,
    );
    assert.equal(there, '', 'left out of the image (NODE_APP_UNREAD in src/plan/variants.ts)');
    const facts = JSON.parse(node([], [], NODE_PROBE)) as {
      v: string;
      report: string;
      stack: string;
      prof: number;
    };
    assert.equal(facts.report, facts.v, 'process.report.getReport()');
    assert.match(facts.stack, /Error: boom\|at f/, "an uncaught error's stack trace");
    assert.equal(facts.prof, 1, '--cpu-prof wrote a profile');
    // /etc/mime.types stays (apps may read it), though Node itself does not: the same answers without it.
    const noMime = ['-v', '/dev/null:/etc/mime.types:ro'];
    assert.equal(
      node(noMime, [], NODE_PROBE).replace(/"prof":\d+/, ''),
      JSON.stringify(facts).replace(/"prof":\d+/, ''),
    );
  });
});
