import assert from 'node:assert/strict';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * What an app gets at run time from `distill build`, in the real Docker engine: directories it
 * may write (also as a named volume's first mount), and a builder step that leaves nothing in
 * the machine's temporary directory.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TAG = `t${process.pid}`;

describe('e2e: writable places and a clean /tmp', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  const images: string[] = [];
  const volumes: string[] = [];
  before(async () => {
    dir = await tempDir('distill-build-runtime-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(async () => {
    removeImages(images);
    for (const v of volumes) {
      try {
        docker(['volume', 'rm', '-f', v]);
      } catch {
        // gone
      }
    }
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs node in the image (as its own user, 65532) with `script`, no network. */
  const run = (image: string, script: string, extra: string[] = []) =>
    docker(['run', '--rm', '--network', 'none', ...extra, image, '-e', script]).trim();

  test('--volume /data and distill.writable: the app writes there as 65532, a named volume mounted there too', async (t) => {
    if (!requireComponents(t, 'docker') || !(await requireNetwork(t, DEBIAN, NPM))) return;
    const app = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
    await writeFile(join(app, 'package.json'), JSON.stringify({ ...pkg, distill: { writable: ['cache'] } }));
    const image = `distill-e2e/hello-volume:${TAG}`;
    const r = await distill(['build', app, '-q', '--volume', '/data', '-o', `docker-daemon:${image}`], env);
    assert.equal(r.code, 0, r.stderr);
    images.push(image);
    const cfg = JSON.parse(docker(['image', 'inspect', image]))[0].Config;
    assert.deepEqual(cfg.Volumes, { '/data': {} });
    assert.equal(cfg.User, '65532:65532');

    const write = `const fs = require('fs');
      fs.writeFileSync('/data/note', 'hi');
      fs.writeFileSync('cache/c', '1');
      let app = 'writable';
      try { fs.writeFileSync('/app/x', '1'); } catch (e) { app = e.code; }
      console.log([process.getuid(), fs.statSync('/data/note').uid, fs.statSync('/app/cache/c').uid, app].join(' '));`;
    // An anonymous volume (VOLUME /data), as docker run makes one.
    assert.equal(run(image, write), '65532 65532 65532 EACCES', 'the rest of /app stays read-only');

    // A named volume: Docker copies the image directory's owner into it on its first mount.
    const volume = `distill-e2e-data-${TAG}`;
    docker(['volume', 'create', volume]);
    volumes.push(volume);
    assert.equal(run(image, write, ['-v', `${volume}:/data`]), '65532 65532 65532 EACCES');
    assert.equal(
      run(
        image,
        "const fs = require('fs'); const s = fs.statSync('/data'); console.log(s.uid, (s.mode & 0o777).toString(8), fs.readFileSync('/data/note', 'utf8'))",
        ['-v', `${volume}:/data`],
      ),
      '65532 755 hi',
      'what the first container wrote is in the volume',
    );
  });

  test('a yarn build leaves nothing in the TMPDIR distill runs with (yarn--*, v8-compile-cache)', async (t) => {
    if (!(await requireNetwork(t, DEBIAN, NPM))) return;
    const app = join(dir, 'yarn-app');
    await cp(join(ROOT, 'test', 'fixtures', 'apps', 'yarn-app'), app, { recursive: true });
    const pkg = JSON.parse(await readFile(join(app, 'package.json'), 'utf8'));
    // `yarn run` is what makes yarn 1's /tmp/yarn--* directories.
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({
        ...pkg,
        scripts: { build: "node -e \"require('fs').writeFileSync('built.txt', '1')\"" },
      }),
    );
    const tmp = join(dir, 'machine-tmp');
    await mkdir(tmp);
    // The scratch copy goes elsewhere, so that what remains in TMPDIR is only what leaked.
    const r = await distill(['build', app, '-q', '-o', `oci:${join(dir, 'yarn-out')}:x`], {
      ...env,
      TMPDIR: tmp,
      DISTILL_SCRATCH: join(dir, 'scratch'),
    });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await readdir(tmp), []);
  });
});
