import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BIN, distillProcess } from '../helpers/cli.js';
import { type RunningRegistry, requireComponents, startRegistry, tempDir } from '../helpers/components.js';
import { docker, removeImages } from '../helpers/docker.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';

/**
 * `distill build` with the habits of docker build and buildx: -t NAME[:TAG] with --load (the
 * real Docker engine) and --push (a real registry), --iidfile and --metadata-file as buildx
 * writes them, the "Run it" hint with the image's ports, and `| head -1` on --format json.
 * examples/hello is built as test/e2e/build.test.ts builds it: a copy, one cache for the file.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NAME = `distill-h2cli/hello:t${process.pid}`;

describe('distill build -t, --load, --push, --iidfile, --metadata-file', () => {
  let dir = '';
  let app = '';
  let env: NodeJS.ProcessEnv = {};
  let registry: RunningRegistry | undefined;
  const images: string[] = [];
  before(async () => {
    dir = await tempDir('distill-cli-build-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
    app = join(dir, 'hello');
    await cp(join(ROOT, 'examples', 'hello'), app, { recursive: true });
    await rm(join(app, '.distill'), { recursive: true, force: true });
  });
  after(async () => {
    removeImages(images);
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function ready(t: Parameters<typeof requireComponents>[0], ...more: string[]): Promise<boolean> {
    if (!requireComponents(t, 'docker', ...more)) return false;
    return requireNetwork(t, DEBIAN, NPM);
  }

  test('-t NAME --load: the image is in the engine; iidfile and metadata-file say which', async (t) => {
    if (!(await ready(t))) return;
    const iid = join(dir, 'iid');
    const meta = join(dir, 'metadata.json');
    const r = distillProcess(
      [
        'build',
        app,
        '-q',
        '-t',
        NAME,
        '--load',
        '-p',
        '8080',
        '-p',
        '5353/udp',
        '--iidfile',
        iid,
        '--metadata-file',
        meta,
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    images.push(NAME);
    const digest = /^built (sha256:[0-9a-f]{64}) \(linux\/amd64\)$/m.exec(r.stdout)?.[1];
    assert.ok(digest, r.stdout);
    assert.match(r.stdout, new RegExp(`^  -> docker-daemon:${NAME}$`, 'm'));
    assert.match(
      r.stdout,
      new RegExp(`^Run it: +docker run --rm -p 8080:8080 -p 5353:5353/udp ${NAME}$`, 'm'),
    );
    assert.doesNotMatch(r.stdout, /Load it into Docker/, 'the image is in Docker already');
    assert.equal(existsSync(join(app, '.distill', 'image')), false, 'no layout without -o');

    const inspected = JSON.parse(docker(['image', 'inspect', NAME]))[0];
    const id = await readFile(iid, 'utf8');
    assert.match(id, /^sha256:[0-9a-f]{64}$/, 'the image ID alone, no newline, as buildx writes it');
    assert.equal(inspected.Id, id, "the engine's image ID");
    assert.deepEqual(Object.keys(inspected.Config.ExposedPorts).sort(), ['5353/udp', '8080/tcp']);
    const metadata = JSON.parse(await readFile(meta, 'utf8'));
    assert.deepEqual(Object.keys(metadata), [
      'containerimage.config.digest',
      'containerimage.descriptor',
      'containerimage.digest',
      'image.name',
    ]);
    assert.equal(metadata['containerimage.digest'], digest);
    assert.equal(metadata['containerimage.config.digest'], id);
    assert.equal(metadata['containerimage.descriptor'].digest, digest);
    assert.equal(
      metadata['containerimage.descriptor'].mediaType,
      'application/vnd.oci.image.manifest.v1+json',
    );
    assert.equal(metadata['image.name'], `docker.io/${NAME}`);
  });

  test('--load without -t: the name from package.json', async (t) => {
    if (!(await ready(t))) return;
    const named = join(dir, 'named');
    await cp(app, named, { recursive: true });
    const pkg = JSON.parse(await readFile(join(named, 'package.json'), 'utf8'));
    const name = `distill-h2cli-load-t${process.pid}`;
    await writeFile(join(named, 'package.json'), JSON.stringify({ ...pkg, name }));
    const r = distillProcess(['build', named, '-q', '--load'], env);
    assert.equal(r.code, 0, r.stderr);
    images.push(`${name}:latest`);
    assert.match(r.stdout, new RegExp(`^  -> docker-daemon:${name}:latest$`, 'm'));
    assert.match(r.stdout, new RegExp(`^Run it: +docker run --rm ${name}:latest$`, 'm'), 'no ports exposed');
    assert.equal(JSON.parse(docker(['image', 'inspect', `${name}:latest`])).length, 1);
  });

  test('-t REGISTRY/NAME --push: the image is in the registry, as skopeo reads it', async (t) => {
    if (!(await ready(t, 'docker-registry', 'skopeo'))) return;
    registry = await startRegistry();
    const ref = `${registry.host}/distill/hello:1`;
    const meta = join(dir, 'pushed.json');
    const r = distillProcess(['build', app, '-q', '-t', ref, '--push', '--metadata-file', meta], env);
    assert.equal(r.code, 0, r.stderr);
    const digest = /^built (sha256:[0-9a-f]{64})/m.exec(r.stdout)?.[1];
    assert.match(r.stdout, new RegExp(`^  -> docker://${ref}$`, 'm'));
    assert.doesNotMatch(r.stdout, /Run it|Load it/, 'nothing is in Docker, nothing to load');
    const seen = JSON.parse(
      execFileSync('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`], { encoding: 'utf8' }),
    );
    assert.equal(seen.Digest, digest);
    const metadata = JSON.parse(await readFile(meta, 'utf8'));
    assert.equal(metadata['containerimage.digest'], digest);
    assert.equal(metadata['image.name'], ref);
  });

  test('| head -1 on build --format json: the pipe status, nothing on stderr', async (t) => {
    if (!(await ready(t, 'bash', 'head', 'true'))) return;
    const q = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
    const build = `${q(process.execPath)} ${q(BIN)} build ${q(app)} -q -t my/app:2 --format json`;
    const sh = (script: string) =>
      spawnSync('bash', ['-o', 'pipefail', '-c', script], {
        encoding: 'utf8',
        env: { ...process.env, ...env },
        timeout: 300_000,
      });
    // head takes the one line the JSON is: the build ends as usual.
    const all = sh(`${build} | head -1`);
    assert.equal(all.status, 0, all.stderr);
    assert.equal(all.stderr, '');
    const out = JSON.parse(all.stdout);
    assert.deepEqual(out.outputs, [`oci:${join(app, '.distill', 'image')}:2`], '-t alone tags the layout');
    // A reader gone before the result is written: 141, as coreutils and git in its place.
    const gone = sh(`${build} | true`);
    assert.equal(gone.status, 141, gone.stderr);
    assert.equal(gone.stderr, '');
    // Text: the layout and the hints that name -t's name.
    const text = distillProcess(['build', app, '-q', '-t', 'my/app:2'], env);
    assert.equal(text.code, 0, text.stderr);
    assert.match(
      text.stdout,
      /^Load it into Docker: +distill copy oci:\S+\.distill\/image:2 docker-daemon:my\/app:2$/m,
    );
    assert.match(text.stdout, /^Push it: +distill copy oci:\S+ docker:\/\/REGISTRY\/my\/app:2$/m);
    assert.doesNotMatch(text.stdout, /Run it/, 'the image is not in Docker');
  });
});
