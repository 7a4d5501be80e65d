import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { NODE_APP_UNUSED_LIBS } from '../../src/plan/variants.js';
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

  const node = (mounts: string[], env: string[], script: string, img = image) =>
    docker([
      'run',
      '--rm',
      '--network',
      'none',
      '--tmpfs',
      '/tmp:mode=1777',
      ...mounts,
      ...env.flatMap((e) => ['-e', e]),
      img,
      '-e',
      script,
    ]).trim();

  /**
   * The distroless nodejs24 base (`distill base nodejs24`): the same Debian packages whole, so
   * the items the app image leaves out are there, to run Node with them and with them hidden.
   */
  let whole = '';
  async function nodejsBase(): Promise<string> {
    if (whole !== '') return whole;
    const name = `distill-e2e/slim-os-whole:${TAG}`;
    const r = await distill(['base', 'nodejs24', '-q', '-o', `docker-daemon:${name}`], {
      DISTILL_CACHE: join(dir, 'cache'),
    });
    assert.equal(r.code, 0, r.stderr);
    images.push(name);
    whole = name;
    return name;
  }
  /** The answer of the image's Node to `script` (through the base's entrypoint, /nodejs/bin/node). */
  const inBase = (mounts: string[], env: string[], script: string) => node(mounts, env, script, whole);
  const absent = (paths: string[]) =>
    node([], [], `console.log(${JSON.stringify(paths)}.filter((p)=>require('fs').existsSync(p)).join(','))`);

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

  test("glibc's unused libraries: Node never loads them, and app images leave them out", async (t) => {
    if (!(await hello(t))) return;
    const base = await nodejsBase();
    assert.ok(base);
    const libs = NODE_APP_UNUSED_LIBS.map((l) => `/usr/lib/x86_64-linux-gnu/${l}`);
    // What loads libraries in a running Node: the user database (NSS), name resolution, Intl, a
    // report, a child process with a CPU profile. With the files there, none of them is loaded.
    const probe = [
      "const os=require('os');require('dns').lookup('localhost',(e,a)=>{",
      'const u=os.userInfo();',
      `${NODE_PROBE.replace('console.log(JSON.stringify({', 'console.log(JSON.stringify({a,u:u.username,so:process.report.getReport().sharedObjects.map((p)=>p.split("/").pop()).sort(),')}})`,
    ].join('');
    const facts = JSON.parse(inBase([], [], probe)) as { so: string[]; a: string; u: string; prof: number };
    assert.equal(facts.a, '127.0.0.1');
    assert.equal(facts.prof, 1);
    assert.ok(facts.so.includes('libc.so.6') && facts.so.includes('libstdc++.so.6'), facts.so.join());
    for (const l of NODE_APP_UNUSED_LIBS) assert.ok(!facts.so.includes(l), `${l} is loaded`);
    // Hidden (an empty file in their place): the same answers.
    const hidden = libs.flatMap((l) => ['-v', `/dev/null:${l}:ro`]);
    assert.equal(
      inBase(hidden, [], probe).replace(/"prof":\d+/, ''),
      JSON.stringify(facts).replace(/"prof":\d+/, ''),
    );
    // The app image has none of them, and Node does the same there.
    assert.equal(absent(libs), '');
    const app = JSON.parse(node([], [], probe)) as typeof facts;
    assert.equal(app.a, '127.0.0.1');
    assert.equal(app.prof, 1);
    assert.deepEqual(
      app.so.filter((l) => !l.startsWith('libatomic')),
      facts.so,
    );
  });

  test("tzdata's right/ zones and tzdata.zi: Node answers the same without them; the zones it reads stay", async (t) => {
    if (!(await hello(t))) return;
    await nodejsBase();
    const hidden = [
      '--tmpfs',
      '/usr/share/zoneinfo/right',
      '-v',
      '/dev/null:/usr/share/zoneinfo/tzdata.zi:ro',
    ];
    // Node's ICU takes right/Area/City as Area/City, from its own data; the rest as before.
    for (const tz of [
      'right/Europe/Berlin',
      'right/America/New_York',
      'Europe/Berlin',
      'US/Eastern',
      'UTC',
    ]) {
      const withIt = inBase([], [`TZ=${tz}`], TIME_PROBE);
      assert.equal(inBase(hidden, [`TZ=${tz}`], TIME_PROBE), withIt, `TZ=${tz}`);
    }
    assert.equal(
      (JSON.parse(inBase(hidden, ['TZ=right/Europe/Berlin'], TIME_PROBE)) as { off: number }).off,
      -120,
    );
    // The one change: a right/ file named by path. Node reads it (India, no summer time, at
    // +5:30); without it the process zone is UTC, as for any zone file that is not there. (Node
    // reads TZ=:FILE without summer time: Berlin's file gives +1 in July, with or without right/.)
    const byPath = ['TZ=:/usr/share/zoneinfo/right/Asia/Kolkata'];
    assert.equal((JSON.parse(inBase([], byPath, TIME_PROBE)) as { off: number }).off, -330);
    assert.equal((JSON.parse(inBase(hidden, byPath, TIME_PROBE)) as { off: number }).off, 0);
    // The app image: right/ and tzdata.zi are gone; the binary zones TZ=:FILE reads are there,
    // tzdata-legacy's old names included.
    assert.equal(absent(['/usr/share/zoneinfo/right', '/usr/share/zoneinfo/tzdata.zi']), '');
    for (const file of ['Asia/Kolkata', 'Asia/Calcutta']) {
      const env = [`TZ=:/usr/share/zoneinfo/${file}`];
      assert.equal((JSON.parse(node([], env, TIME_PROBE)) as { off: number }).off, -330, file);
    }
  });

  test('/usr/share/doc: only the copyright files stay, and every licence they name is there', async (t) => {
    if (!(await hello(t))) return;
    await nodejsBase();
    // Node reads nothing of the docs: the same answers with /usr/share/doc hidden.
    const noDocs = ['--tmpfs', '/usr/share/doc'];
    assert.equal(
      inBase(noDocs, [], NODE_PROBE).replace(/"prof":\d+/, ''),
      inBase([], [], NODE_PROBE).replace(/"prof":\d+/, ''),
    );
    // In the app image: each package's directory (or Debian's link to the one that covers it)
    // holds its copyright file and nothing else, and the common licences they point to exist.
    const listing = [
      "const fs=require('fs');const d='/usr/share/doc';const out={};",
      'for(const p of fs.readdirSync(d))out[p]=fs.readdirSync(d+"/"+p);',
      'const named=new Set();for(const p of Object.keys(out))for(const m of fs.readFileSync(d+"/"+p+"/copyright","utf8").matchAll(/\\/usr\\/share\\/common-licenses\\/([A-Za-z0-9.+-]*[A-Za-z0-9+])/g))named.add(m[1]);',
      "const c='/usr/share/common-licenses/';const missing=[...named].filter((l)=>!fs.existsSync(c+l));",
      'const linked=new Set([...named].map((l)=>{try{return fs.readlinkSync(c+l).split("/").pop()}catch{return l}}));',
      'const unnamed=fs.readdirSync(c).filter((l)=>!named.has(l)&&!linked.has(l));',
      'console.log(JSON.stringify({out,named:[...named],missing,unnamed}))',
    ].join('');
    const docs = JSON.parse(node([], [], listing)) as {
      out: Record<string, string[]>;
      named: string[];
      missing: string[];
      unnamed: string[];
    };
    assert.ok(Object.keys(docs.out).includes('libc6'), Object.keys(docs.out).join());
    for (const [pkg, files] of Object.entries(docs.out)) assert.deepEqual(files, ['copyright'], pkg);
    assert.ok(docs.named.includes('LGPL-2.1'), docs.named.join());
    assert.deepEqual(docs.missing, []);
    assert.deepEqual(docs.unnamed, [], 'the common licences no copyright file names are left out');
  });
});
