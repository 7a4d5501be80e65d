/**
 * Makes bench/build/apps/sqlite-tsc/package.json and package-lock.json again with npm itself
 * (`npmPackage` in test/helpers/apps/recipes/sqlite.ts: npm init, the dependencies at the
 * versions test/helpers/apps/versions.ts pins, npm approve-scripts), next to the app's own
 * src/ and tsconfig.json. Install scripts are skipped (the lockfile does not depend on them).
 *
 *   node --import tsx bench/build/apps/make.ts
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { npmPackage, SQLITE_APP } from '../../../test/helpers/apps/recipes/sqlite.js';
import { hostEnv } from '../../../test/helpers/apps.js';

const work = await mkdtemp(join(tmpdir(), 'distill-bench-app-'));
try {
  await npmPackage(work, await hostEnv(), ['--ignore-scripts']);
  for (const f of ['package.json', 'package-lock.json']) await cp(join(work, f), join(SQLITE_APP, f));
  process.stdout.write(`wrote package.json and package-lock.json in ${SQLITE_APP}\n`);
} finally {
  await rm(work, { recursive: true, force: true });
}
