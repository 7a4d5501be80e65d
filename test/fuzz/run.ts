/**
 * `npm run fuzz -- [--budget 10m] [--only tar,deb] [--timeout 10s] [--seed N]`: runs each fuzz
 * target (targets.ts) for the budget, one input at a time in a worker (pool.ts), counts inputs
 * per target, saves every input that crashed or hung under test/corpus/<target>/ (replayed by
 * corpus.test.ts on every npm test), and ends with a table for docs/RELIABILITY.md. Exit 1 if
 * any input failed.
 */

import { cpus } from 'node:os';
import { relative } from 'node:path';
import fc from 'fast-check';
import { CORPUS, saveToCorpus } from './corpus.js';
import { FuzzPool, type Verdict } from './pool.js';
import { TARGETS } from './targets.js';

interface Options {
  budgetMs: number;
  only: string[] | undefined;
  timeoutMs: number;
  seed: number;
}

/** `90s`, `10m`, `1h`, or milliseconds. */
function duration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text);
  if (!m) throw new Error(`${flag} takes a duration such as 90s, 10m or 1h, not ${JSON.stringify(text)}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 'ms') as 'ms'];
  return Number(m[1]) * unit;
}

function parseArgs(argv: string[]): Options {
  const o: Options = {
    budgetMs: 10 * 60_000,
    only: undefined,
    timeoutMs: 10_000,
    seed: Date.now() % 2 ** 31,
  };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const value = () => inline ?? argv[++i] ?? '';
    if (flag === '--budget') o.budgetMs = duration(value(), flag);
    else if (flag === '--timeout') o.timeoutMs = duration(value(), flag);
    else if (flag === '--only') o.only = value().split(',').filter(Boolean);
    else if (flag === '--seed') o.seed = Number(value());
    else
      throw new Error(
        `unknown option ${flag}; use --budget 10m, --only NAME[,NAME], --timeout 10s, --seed N`,
      );
  }
  for (const name of o.only ?? []) {
    if (!TARGETS.some((t) => t.name === name))
      throw new Error(`no fuzz target ${name}; they are ${TARGETS.map((t) => t.name).join(', ')}`);
  }
  return o;
}

interface Tally {
  name: string;
  inputs: number;
  ms: number;
  ok: number;
  refused: number;
  crashes: number;
  hangs: number;
  saved: string[];
}

async function fuzzTarget(pool: FuzzPool, name: string, opts: Options, seed: number): Promise<Tally> {
  const target = TARGETS.find((t) => t.name === name)!;
  const t: Tally = { name, inputs: 0, ms: 0, ok: 0, refused: 0, crashes: 0, hangs: 0, saved: [] };
  const started = Date.now();
  let told = started;
  for (let batch = 0; Date.now() - started < opts.budgetMs; batch++) {
    for (const input of fc.sample(target.arbitrary, { numRuns: 25, seed: seed + batch })) {
      if (Date.now() - started >= opts.budgetMs) break;
      const v: Verdict = await pool.check(name, input);
      t.inputs++;
      if (v.kind === 'ok') t.ok++;
      else if (v.kind === 'refused') t.refused++;
      else {
        if (v.kind === 'crash') t.crashes++;
        else t.hangs++;
        const file = await saveToCorpus(name, input);
        t.saved.push(file);
        process.stderr.write(
          `\n${name}: ${v.kind}, saved ${relative(process.cwd(), file)}\n${v.detail.split('\n').slice(0, 6).join('\n')}\n`,
        );
      }
    }
    // progress: in place on a terminal, a line every 30 s otherwise
    const line = `${name}: ${t.inputs} inputs, ${Math.round((Date.now() - started) / 1000)} s`;
    if (process.stderr.isTTY) process.stderr.write(`\r${line}`);
    else if (Date.now() - told >= 30_000) {
      process.stderr.write(`${line}\n`);
      told = Date.now();
    }
  }
  t.ms = Date.now() - started;
  process.stderr.write(
    `${process.stderr.isTTY ? '\r' : ''}${name}: ${t.inputs} inputs, ${t.crashes} crashes, ${t.hangs} hangs\n`,
  );
  return t;
}

function table(tallies: Tally[], opts: Options): string {
  const rows = tallies.map(
    (t) =>
      `| ${t.name} | ${t.inputs} | ${(t.ms / 60_000).toFixed(1)} | ${t.crashes} | ${t.hangs} | ${t.refused} | ${t.ok} |`,
  );
  return [
    `Fuzz run: ${new Date().toISOString().slice(0, 10)}, budget ${+(opts.budgetMs / 60_000).toFixed(2)} min per parser, ${opts.timeoutMs / 1000} s per input, seed ${opts.seed}, ${cpus().length} cores, Node ${process.version}`,
    '',
    '| parser | inputs tried | minutes | crashes | hangs | refused (DistillError) | read |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  const names = opts.only ?? TARGETS.map((t) => t.name);
  const pool = new FuzzPool(opts.timeoutMs);
  const tallies: Tally[] = [];
  try {
    for (const [i, name] of names.entries())
      tallies.push(await fuzzTarget(pool, name, opts, opts.seed + i * 1_000_003));
  } finally {
    await pool.close();
  }
  process.stdout.write(`${table(tallies, opts)}\n`);
  const saved = tallies.flatMap((t) => t.saved);
  if (saved.length > 0) {
    process.stdout.write(
      `\n${saved.length} failing inputs saved under ${relative(process.cwd(), CORPUS)}; fix them, then npm test replays them.\n`,
    );
  }
  return saved.length > 0 ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 2;
  },
);
