import assert from 'node:assert/strict';
import { cp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';
import { DEBIAN, NPM, requireNetwork } from '../helpers/network.js';
import { assertValidSpdx, purlOf } from '../sbom/helpers.js';

/**
 * `distill build --attest sbom` of a pnpm app and a yarn (classic) app, against the npm registry
 * and Debian's archive: the attached SBOM lists the npm packages the image's node_modules holds,
 * the same `name@version`s as `distill sbom` reads from the image's merged filesystem, with the
 * lockfile's integrity. test/sbom/tree.test.ts checks the same reading against `pnpm ls` and
 * `yarn list` of an install.
 */
const FIXTURES = fileURLToPath(new URL('../fixtures/apps', import.meta.url));

type Json = Record<string, unknown>;

function npmPackages(spdx: Json): Json[] {
  return (spdx.packages as Json[]).filter((p) => purlOf(p)?.type === 'npm' && purlOf(p)?.name !== undefined);
}

describe('e2e: --attest sbom of pnpm and yarn apps', () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  before(async () => {
    dir = await tempDir('distill-attest-pm-');
    env = { DISTILL_CACHE: join(dir, 'cache') };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const [app, extra] of [
    ['pnpm-dev-deps', ['@esbuild/', 'esbuild', 'tsx']],
    ['yarn-app', []],
  ] as const) {
    test(`${app}: the npm packages of the image, with the lockfile's integrity`, {
      timeout: 15 * 60_000,
    }, async (t) => {
      if (!requireComponents(t, 'npm') || !(await requireNetwork(t, DEBIAN, NPM))) return;
      const copy = join(dir, app);
      await cp(join(FIXTURES, app), copy, { recursive: true });
      const ref = `oci:${join(dir, `${app}-out`)}:x`;
      const built = await distill(['build', copy, '-q', '--attest', 'sbom', '-o', ref], env);
      assert.equal(built.code, 0, built.stderr);
      const attached = await distill(['sbom', ref, '--attached', '--format', 'spdx-json'], env);
      assert.equal(attached.code, 0, attached.stderr);
      const fromImage = await distill(['sbom', ref, '--format', 'spdx-json'], env);
      assert.equal(fromImage.code, 0, fromImage.stderr);
      const doc = await assertValidSpdx(attached.stdout);
      const ours = npmPackages(doc);
      const ids = (list: Json[]) => [...new Set(list.map((p) => `${p.name}@${p.versionInfo}`))].sort();
      const root = String(
        (doc.packages as Json[]).find((p) => p.SPDXID === (doc.documentDescribes as string[])[0])?.name,
      );
      const image = npmPackages(JSON.parse(fromImage.stdout) as Json).filter((p) => p.name !== root);
      assert.ok(ours.length > 0, 'npm packages listed');
      assert.deepEqual(ids(ours.filter((p) => p.name !== root)), ids(image), 'what the image holds');
      for (const dev of extra)
        assert.ok(!ours.some((p) => String(p.name).startsWith(dev)), `no dev dependency ${dev}`);
      for (const p of ours.filter((q) => q.name !== root)) {
        assert.ok(
          (p.checksums as Json[] | undefined)?.some((c) => c.algorithm === 'SHA512'),
          `${p.name}: the lockfile's integrity`,
        );
      }
      const rels = (doc.relationships as Json[]).filter((r) => r.relationshipType === 'DEPENDS_ON');
      assert.ok(rels.length > 0, 'dependency relationships');
    });
  }
});
