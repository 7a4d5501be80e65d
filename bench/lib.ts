import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

/** Shared bench helpers: time a command with /usr/bin/time (wall seconds, peak RSS of the tree's largest process). */
export interface Measured {
  wall: number;
  rssKb: number;
  /** Wall seconds by this process's clock around /usr/bin/time (whose own figure has 10 ms steps). */
  elapsed: number;
  /** CPU seconds, user and system, of the command and the children it waited for (10 ms steps). */
  cpu: number;
}

export function timeCommand(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Measured {
  const t0 = performance.now();
  const r = spawnSync('/usr/bin/time', ['-f', '%e %M %U %S', cmd, ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  const elapsed = (performance.now() - t0) / 1000;
  const lines = r.stderr.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/.exec(last);
  if (r.status !== 0 || !m) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${r.stderr.slice(-2000)}`);
  }
  return { wall: Number(m[1]), rssKb: Number(m[2]), elapsed, cpu: Number(m[3]) + Number(m[4]) };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  return `${cpus().length} cores (${cpu}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}

/**
 * Replaces the `<!-- bench:NAME:start -->` ... `<!-- bench:NAME:end -->` block of docs/BENCHMARKS.md
 * with `block` (which carries the markers itself), or appends it when the file has none yet.
 */
export function writeBenchBlock(root: string, name: string, block: string): void {
  const file = join(root, 'docs/BENCHMARKS.md');
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const re = new RegExp(`<!-- bench:${name}:start -->[\\s\\S]*<!-- bench:${name}:end -->`);
  writeFileSync(file, re.test(text) ? text.replace(re, () => block) : `${text.trimEnd()}\n\n${block}\n`);
}

/**
 * What users install: `npm pack` of the checkout at `dir`, installed with `npm install -g` under
 * `scratch/prefix-NAME`; returns the installed bin/distill.js (benches time it, never tsx or npx).
 */
export function packAndInstall(dir: string, scratch: string, name: string, log = 'bench'): string {
  const sh = (cmd: string, args: string[], cwd: string) => {
    process.stderr.write(`${log}: ${cmd} ${args.join(' ')}\n`);
    execFileSync(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
  };
  const out = join(scratch, `pack-${name}`);
  mkdirSync(out, { recursive: true });
  sh('npm', ['pack', '--silent', '--pack-destination', out], dir);
  const tgz = readdirSync(out).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack left no tarball in ${out}`);
  const prefix = join(scratch, `prefix-${name}`);
  sh('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', join(out, tgz)], scratch);
  return join(prefix, 'lib', 'node_modules', 'distill', 'bin', 'distill.js');
}
