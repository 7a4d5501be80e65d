/**
 * The copy of the shared peers harness bench/build runs in (run.ts: timings, sizes.ts: image
 * sizes): where it is, how it is made, how its scripts run and how their tables are read.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('../..', import.meta.url));
export const shared = process.env.PEERS_DIR ?? join(root, '..', 'shared', 'peers');
export const scratch = process.env.SCRATCH ?? '/tmp/peers';
export const results = join(scratch, 'results');
/** A writable copy of the shared harness with distill added (the shared folder is read-only). */
const peers = join(scratch, 'harness');

/**
 * Copies the shared harness and adds distill the way its README says a tool is added: a
 * 3N-bench script and the size builds' 34-sizes.sh (kept in bench/build/peers/) and a block in 40-inspect.sh that brings the
 * image into dockerd and measures it like containerify's.
 */
export async function harness(): Promise<void> {
  await rm(peers, { recursive: true, force: true });
  await cp(shared, peers, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', peers]);
  for (const script of ['33-bench-distill.sh', '34-sizes.sh']) {
    await cp(join(root, 'bench/build/peers', script), join(peers, script));
  }
  // Apps with their own Dockerfile, and the functions that prepare and change them.
  for (const app of await readdir(join(root, 'bench/build/apps'), { withFileTypes: true })) {
    if (!app.isDirectory()) continue;
    await cp(join(root, 'bench/build/apps', app.name), join(peers, 'apps', app.name), {
      recursive: true,
      filter: (src) => !/\/(node_modules|dist)$/.test(src),
    });
  }
  await cp(join(root, 'bench/build/peers/lib-apps.sh'), join(peers, 'lib-apps.sh'));
  await appendFile(join(peers, 'lib.sh'), '\n. "$HERE/lib-apps.sh"\n');
  const inspect = join(peers, '40-inspect.sh');
  const text = await readFile(inspect, 'utf8');
  const anchor = '\ndone\ncolumn -t';
  if (!text.includes(anchor))
    throw new Error(`${join(shared, '40-inspect.sh')} changed: no "done / column -t" to add distill before`);
  const block = [
    '',
    '  if skopeo inspect --tls-verify=false --raw "docker://$REG/peers/distill-$app:latest" >/dev/null 2>&1; then',
    '    skopeo copy -q --src-tls-verify=false "docker://$REG/peers/distill-$app:latest" \\',
    '      "docker-daemon:peers/distill-$app:latest" >/dev/null',
    '    row distill "$app" "peers/distill-$app:latest" "$(manifest_gz_sum "peers/distill-$app:latest")"',
    '  fi',
  ].join('\n');
  await writeFile(inspect, text.replace(anchor, `${block}${anchor}`));
}

export function run(script: string, env: NodeJS.ProcessEnv = {}): void {
  process.stderr.write(`bench/build: ${script}\n`);
  execFileSync('bash', [join(peers, script)], {
    cwd: peers,
    stdio: 'inherit',
    env: { ...process.env, DISTILL_REPO: root, ...env },
  });
}

export function tsv(name: string): string[][] {
  const p = join(results, name);
  if (!existsSync(p)) return [];
  return readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}
