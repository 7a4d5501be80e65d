import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkAborted } from '../../errors.js';
import { digestOf } from '../../oci/digest.js';
import type { Store } from '../../store/store.js';
import { type Builder, buildScriptFailed, runPhases, SCRATCH_TMP } from './install.js';
import { runCommand } from './run.js';

/**
 * The build script without starting npm, when npm has run it before with the same inputs.
 *
 * `npm run build` costs npm's own start (about 0.13 s of CPU: loading npm, reading its config and
 * package.json) before it spawns `sh -c <script>`, and on a code-only rebuild of a `tsc` app that
 * is a tenth of distill's work. What npm does there is fixed by what it reads: its version, the
 * Node that runs it, the environment it is given, package.json and the npmrc files (project,
 * user, global, npm's own). So the first time, npm runs the script as ever, with its
 * `script-shell` pointed at a recorder (below) that writes down, for each script npm starts
 * (`prebuild`, `build`, `postbuild`), the exact environment, arguments and directory npm gave
 * it, then execs `sh` with them unchanged (npm's own default, `sh`): the script runs exactly as
 * without the recorder. The recorder takes its own two variables out before it execs, and nothing
 * else of npm's environment depends on `script-shell`. When npm exits 0, what it added to the
 * environment is kept as a `build-script-run` record, keyed by the digests of everything npm read
 * (the values of the environment are not kept, only npm's additions: no token of the user's
 * environment lands in the cache). The next build of the same key spawns those `sh` commands
 * itself, in order, stopping at the first that fails, as npm does.
 *
 * Only for npm, only without a workspace (npm -w reads every workspace's package.json), and never
 * when an npmrc or the environment sets `script-shell` (the recorder would replace it). pnpm and
 * yarn classic run scripts the same way and could follow; yarn berry runs them in its own shell,
 * which cannot be replayed.
 */
export interface ScriptRun {
  /** The directory npm ran it in. */
  cwd: string;
  /** The arguments npm gave the shell (`-c`, the script). */
  args: string[];
  /** The variables npm set or changed, beside the builder's environment. */
  set: Record<string, string>;
  /** The builder's variables npm took out. */
  unset: string[];
}

declare module '../../store/records.js' {
  interface RecordValues {
    'build-script-run': { runs: ScriptRun[] };
  }
}

const RECORDER = 'script-shell-record';
const RECORD_DIR = 'script-runs';
/** Variables of the recorder itself, taken out before the script's shell starts. */
const OWN = ['npm_config_script_shell', 'DISTILL_SCRIPT_RECORD'];

const SHELL_NOISE = new Set(['_', 'OLDPWD', 'SHLVL']);

/**
 * An environment as a key part: every variable, sorted, but for what a shell changes from one
 * command to the next and npm never reads (no `_`, OLDPWD or SHLVL in npm 11's code): npm passes
 * them on as they are, and so does the replay. Keys are hashed before they are stored, so no
 * value of the user's environment lands in the cache.
 */
export function keyedEnv(env: NodeJS.ProcessEnv): [string, string][] {
  return Object.entries(env)
    .filter((e): e is [string, string] => e[1] !== undefined && !SHELL_NOISE.has(e[0]))
    .sort(([a], [c]) => (a < c ? -1 : a > c ? 1 : 0));
}

/** The recorder, npm's `script-shell`: writes down what npm gave it, then runs npm's default shell. */
const RECORDER_SH = `#!/bin/sh
# distill: records how npm runs a script (script-replay.ts), then runs it as npm would have.
d="$DISTILL_SCRIPT_RECORD"
n="$d/$(ls "$d" | wc -l | tr -d ' ')"
mkdir "$n" && cat /proc/$$/environ > "$n/env" && printf '%s\\0' "$@" > "$n/args" && pwd -P > "$n/cwd" && : > "$n/ok"
unset npm_config_script_shell DISTILL_SCRIPT_RECORD
exec sh "$@"
`;

/** The npmrc files npm reads (@npmcli/config): project, user, global and npm's own. */
function npmrcFiles(b: Builder): string[] {
  const { env } = b;
  const prefix = env.npm_config_prefix ?? dirname(dirname(b.node));
  return [
    join(b.dir, '.npmrc'),
    env.npm_config_userconfig ?? join(env.HOME ?? '/', '.npmrc'),
    env.npm_config_globalconfig ?? join(prefix, 'etc', 'npmrc'),
    join(b.tc.pm.dir, 'npmrc'),
  ];
}

const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : null);

/** The record's key: everything npm reads to decide what to run and with what; undefined when not replayable. */
export function replayKey(b: Builder): string | undefined {
  if (b.tc.pm.name !== 'npm' || b.steps.workspace !== undefined || b.steps.buildScript === undefined)
    return undefined;
  if (Object.keys(b.env).some((k) => k.toLowerCase() === 'npm_config_script_shell')) return undefined;
  const rcs = npmrcFiles(b).map((p) => [p, read(p)] as const);
  if (rcs.some(([, text]) => text !== null && /script[-_]shell/i.test(text))) return undefined;
  const env = keyedEnv(b.env);
  return digestOf(
    JSON.stringify({
      npm: [b.tc.pm.version, b.tc.pm.script],
      node: b.node,
      dir: b.dir,
      script: b.steps.buildScript,
      env,
      packageJson: read(join(b.dir, 'package.json')),
      npmrc: rcs,
    }),
  );
}

/** The scripts npm ran under the recorder, as records; undefined when one is not whole. */
function recordedRuns(dir: string, env: NodeJS.ProcessEnv): ScriptRun[] | undefined {
  const runs: ScriptRun[] = [];
  const names = readdirSync(dir).sort((a, c) => Number(a) - Number(c));
  for (const name of names) {
    const d = join(dir, name);
    if (!existsSync(join(d, 'ok'))) return undefined;
    const given = new Map<string, string>();
    for (const pair of readFileSync(join(d, 'env'), 'utf8').split('\0')) {
      const eq = pair.indexOf('=');
      if (eq > 0) given.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    for (const k of OWN) given.delete(k);
    const set: Record<string, string> = {};
    for (const [k, v] of given) if (env[k] !== v) set[k] = v;
    const args = readFileSync(join(d, 'args'), 'utf8').split('\0').slice(0, -1);
    const cwd = readFileSync(join(d, 'cwd'), 'utf8').replace(/\n$/, '');
    runs.push({ cwd, args, set, unset: Object.keys(env).filter((k) => !given.has(k)) });
  }
  return runs.length > 0 ? runs : undefined;
}

/** npm runs the build script with the recorder as its shell; its runs are recorded when it succeeds. */
async function runRecorded(b: Builder, store: Store, key: string): Promise<void> {
  const bin = join(b.dir, '.distill-bin');
  const recorder = join(bin, RECORDER);
  const runs = join(bin, RECORD_DIR);
  await rm(runs, { recursive: true, force: true });
  await mkdir(runs, { recursive: true });
  await writeFile(recorder, RECORDER_SH);
  await chmod(recorder, 0o755);
  const env = { ...b.env, npm_config_script_shell: recorder, DISTILL_SCRIPT_RECORD: runs };
  await runPhases({ ...b, env }, ['build']);
  const recorded = recordedRuns(runs, b.env);
  await rm(runs, { recursive: true, force: true });
  if (recorded) await store.record('build-script-run').put({ run: key }, { runs: recorded });
}

/** The recorded runs again: each `sh` with npm's environment, in npm's order; the first failure stops. */
async function replay(b: Builder, runs: readonly ScriptRun[]): Promise<void> {
  const { report, signal } = b;
  const label = `npm ${b.tc.pm.version} run ${b.steps.buildScript}`;
  report.step(`build: ${label} (as npm ran it before: ${runs.length} sh -c, npm not started)`);
  const tmp = join(b.dir, SCRATCH_TMP);
  await mkdir(tmp, { recursive: true });
  for (const run of runs) {
    checkAborted(signal);
    const env: NodeJS.ProcessEnv = { ...b.env };
    for (const k of run.unset) delete env[k];
    Object.assign(env, run.set);
    const { code, output } = await runCommand('sh', run.args, {
      cwd: run.cwd,
      env,
      label,
      ...(signal && { signal }),
      ...(report.output && { onOutput: report.output }),
      ...(report.progress && { onProgress: report.progress }),
    });
    if (code !== 0) throw await buildScriptFailed(b, label, code, output);
  }
  await rm(tmp, { recursive: true, force: true });
}

/**
 * The build phase of the builder step: replayed when npm ran it before with the same inputs,
 * else run by the package manager (recorded when it is npm).
 */
export async function runBuildScript(b: Builder, store: Store): Promise<void> {
  const key = replayKey(b);
  if (key === undefined) return runPhases(b, ['build']);
  const rec = await store.record('build-script-run').get({ run: key });
  if (rec?.runs.every((r) => existsSync(r.cwd))) return replay(b, rec.runs);
  return runRecorded(b, store, key);
}
