import { execFileSync, spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { distill } from './cli.js';
import { DOCKER, tempDir } from './components.js';

/**
 * A skopeo that checks sigstore signatures. Debian 12's skopeo and podman (1.9 / 4.3) are built
 * with sigstore patched out ("Debian-local change: sigstore disabled"), so the one on the host
 * cannot be the verifier. Debian 13's skopeo 1.18 has it: distill itself builds an image of it
 * from trixie's signed packages (`distill base base --package skopeo`), loads it into the
 * Docker engine once under SKOPEO_IMAGE, and each call runs it with `--network host` and the
 * test's directory mounted at the same path.
 */
export const SKOPEO_IMAGE = 'distill-test-skopeo:trixie';

let ready: Promise<void> | undefined;

function imagePresent(): boolean {
  return spawnSync(DOCKER, ['image', 'inspect', SKOPEO_IMAGE], { stdio: 'ignore' }).status === 0;
}

async function build(): Promise<void> {
  if (imagePresent()) return;
  const dir = await tempDir('distill-skopeo-image-');
  try {
    const env = { DISTILL_CACHE: join(dir, 'cache') };
    const r = await distill(
      ['base', 'base', '--package', 'skopeo', '-o', `docker-daemon:${SKOPEO_IMAGE}`, '--quiet'],
      env,
    );
    if (r.code !== 0) throw new Error(`building ${SKOPEO_IMAGE} failed: ${r.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Makes sure the image is there (built on first use, about 40 s). */
export function prepareSigstoreSkopeo(): Promise<void> {
  ready ??= build();
  return ready;
}

export interface SkopeoResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

/** Runs `skopeo ARGS` in the trixie image; `mount` is a directory the arguments' paths are under. */
export function sigstoreSkopeo(mount: string, args: string[]): SkopeoResult {
  const r = spawnSync(
    DOCKER,
    ['run', '--rm', '--network', 'host', '-v', `${mount}:${mount}`, SKOPEO_IMAGE, '/usr/bin/skopeo', ...args],
    { encoding: 'utf8', timeout: 120_000 },
  );
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

/** The version line, to show which skopeo the tests ran. */
export function sigstoreSkopeoVersion(): string {
  return execFileSync(
    DOCKER,
    ['run', '--rm', '--network', 'none', SKOPEO_IMAGE, '/usr/bin/skopeo', '--version'],
    {
      encoding: 'utf8',
    },
  ).trim();
}
