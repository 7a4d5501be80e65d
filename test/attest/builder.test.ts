import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ResourceDescriptor, SlsaProvenance, Statement } from '../../src/attest/index.js';
import { listReferrers, openReferrer } from '../../src/media/referrers.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { makeAptRepo } from '../helpers/aptrepo.js';
import { PACKAGES } from '../helpers/base-fixture.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { NPM, requireNetwork } from '../helpers/network.js';
import { packedCheckout } from '../helpers/pack.js';
import { readAll } from '../helpers/registry-images.js';

/**
 * distill's own package integrity in the provenance (SLSA `builderDependencies`), through the
 * package as users get it: `npm pack` of this checkout, installed into a prefix. A local install
 * has npm's hidden lockfile beside it, whose `integrity` is the tarball's SHA-512; a global one
 * (`npm install -g`, npm 11) keeps none, so the SHA-256 of the bundle file that runs is given and
 * named, both ways the bin runs the bundle (the ESM entry, and on Node 20 the classic script).
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

async function builderOf(bin: string, args: string[], out: string, env: NodeJS.ProcessEnv) {
  await run(process.execPath, [bin, 'base', 'static', '-q', ...args, '-o', `oci:${out}:x`], {
    env: { ...process.env, ...env },
  });
  const ref = parseImageRef(`oci:${out}:x`);
  const index = JSON.parse(await readFile(join(out, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const image = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === 'x')!;
  const found = await listReferrers(ref, image.digest as never);
  const r = await openReferrer(ref, found.find((d) => d.artifactType === 'application/vnd.in-toto+json')!);
  const s = JSON.parse((await readAll(await r.blobs[1]!.open())).toString()) as Statement<SlsaProvenance>;
  const deps = s.predicate.runDetails.builder.builderDependencies;
  assert.equal(deps?.length, 1, JSON.stringify(s.predicate.runDetails));
  return deps[0]! as ResourceDescriptor;
}

test("the provenance names distill's own package: the hidden lockfile's integrity, else the running file's digest", async (t) => {
  if (!requireComponents(t, 'npm', 'dpkg-deb', 'apt-ftparchive', 'gpg', 'xz')) return;
  if (!(await requireNetwork(t, NPM))) return;
  const dir = await tempDir('distill-builder-integrity-');
  const repo = await makeAptRepo({ packages: PACKAGES });
  t.after(async () => {
    await repo.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const keyring = join(dir, 'key.asc');
  await writeFile(keyring, repo.publicKey);
  const repoArgs = ['--mirror', repo.url, '--suite', repo.suite, '--keyring', keyring, '--arch', 'amd64'];
  const args = [...repoArgs, '--attest', 'provenance'];
  const npmEnv = { npm_config_cache: join(dir, 'npm-cache'), npm_config_update_notifier: 'false' };

  // The package as test/pack.test.ts checks it, beside the prefixes (npm records the path).
  const packed = await packedCheckout();
  const { name } = packed;
  const tgzPath = join(dir, name);
  await cp(packed.tgz, tgzPath);
  const tgz = await readFile(tgzPath);
  const version = (JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string })
    .version;
  const install = (extra: string[]) =>
    run('npm', ['install', ...extra, tgzPath, '--no-audit', '--no-fund'], {
      cwd: dir,
      env: { ...process.env, ...npmEnv },
    });

  // A local install: npm's hidden lockfile holds the tarball's integrity and where it came from.
  await install(['--prefix', join(dir, 'local')]);
  const local = join(dir, 'local', 'node_modules', 'distill');
  const env = { DISTILL_CACHE: join(dir, 'cache'), SOURCE_DATE_EPOCH: '' };
  const fromLock = await builderOf(join(local, 'bin', 'distill.js'), args, join(dir, 'out-local'), env);
  assert.deepEqual(fromLock, {
    uri: `pkg:npm/distill@${version}`,
    digest: { sha512: createHash('sha512').update(tgz).digest('hex') },
    annotations: { integritySource: 'npm-hidden-lockfile', resolved: `file:../${name}` },
  });

  // A global install keeps no hidden lockfile: the bundle file that runs, by its SHA-256.
  await install(['-g', '--prefix', join(dir, 'global')]);
  const global = join(dir, 'global', 'lib', 'node_modules', 'distill');
  const fileDigest = async (rel: string) =>
    createHash('sha256')
      .update(await readFile(join(global, rel)))
      .digest('hex');
  const esm = await builderOf(join(global, 'bin', 'distill.js'), args, join(dir, 'out-esm'), {
    ...env,
    NODE_DISABLE_COMPILE_CACHE: '1',
  });
  assert.deepEqual(esm, {
    uri: `pkg:npm/distill@${version}`,
    name: 'dist/bundle/main.js',
    digest: { sha256: await fileDigest('dist/bundle/main.js') },
    annotations: { integritySource: 'running-file' },
  });
  // On Node 20 the bin runs the classic script (bin/code-cache.js); on newer Nodes the ESM entry.
  const script = await builderOf(join(global, 'bin', 'distill.js'), args, join(dir, 'out-script'), env);
  const node20 = Number(process.versions.node.split('.')[0]) === 20;
  const want = node20 ? 'dist/bundle/distill.cjs' : 'dist/bundle/main.js';
  assert.deepEqual(script, { ...esm, name: want, digest: { sha256: await fileDigest(want) } });
});
