import type { CommandProgress } from '../build/app/run.js';
import type { TransferProgress } from '../media/blobs.js';

/**
 * Progress on stderr: on a terminal, one live line per blob being moved (bytes done of total),
 * and under a long command (an install, a build script) its elapsed time and last output line;
 * otherwise one line per step and per finished blob, and a line every 10 s while a command runs;
 * nothing with --quiet.
 */
export interface Reporter extends TransferProgress {
  /** A command of the builder step is still running (called every second). */
  heartbeat?(p: CommandProgress): void;
  done(): void;
}

/** Without a terminal, a running command gets a line every this many milliseconds. */
export const HEARTBEAT_EVERY_MS = 10_000;

function seconds(ms: number): string {
  return `${Math.floor(ms / 1000)}s`;
}

/** A heartbeat as one line: the command, how long it has run, its last output line (cut to `width`). */
export function heartbeatLine(p: CommandProgress, width = 160): string {
  const head = `still running after ${seconds(p.elapsedMs)}: ${p.command}`;
  if (p.lastLine === undefined) return head.slice(0, width);
  const room = Math.max(20, width - head.length - 5);
  const last = p.lastLine.length > room ? `${p.lastLine.slice(0, room - 1)}…` : p.lastLine;
  return `${head} | ${last}`;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

function short(digest: string): string {
  const i = digest.indexOf(':');
  return i >= 0 && digest.length > 20 ? digest.slice(i + 1, i + 13) : digest;
}

/** Without a terminal: one line per step, per finished blob, and every 10 s of a running command. */
function lineReporter(out: NodeJS.WriteStream, prefix: string, elapsed: () => string): Reporter {
  const finished = new Set<string>();
  // The next heartbeat line a command gets, by command.
  const due = new Map<string, number>();
  return {
    step: (m) => out.write(`${prefix}: ${m} (${elapsed()})\n`),
    heartbeat: (p) => {
      const next = due.get(p.command) ?? HEARTBEAT_EVERY_MS;
      if (p.elapsedMs < next) return;
      due.set(
        p.command,
        next + HEARTBEAT_EVERY_MS * Math.floor((p.elapsedMs - next) / HEARTBEAT_EVERY_MS + 1),
      );
      out.write(`${prefix}: ${heartbeatLine(p)}\n`);
    },
    blob: (e) => {
      if (finished.has(e.digest)) return;
      if (e.phase === 'skip' || e.phase === 'mount') {
        finished.add(e.digest);
        out.write(
          `${prefix}: ${short(e.digest)} ${e.phase === 'skip' ? 'already there' : 'mounted'} (${formatBytes(e.total)})\n`,
        );
      } else if (e.done >= e.total && e.total > 0) {
        finished.add(e.digest);
        out.write(`${prefix}: ${short(e.digest)} ${formatBytes(e.total)} done (${elapsed()})\n`);
      }
    },
    done() {},
  };
}

export function makeReporter(opts: {
  quiet: boolean;
  stream?: NodeJS.WriteStream;
  prefix?: string;
}): Reporter {
  const out = opts.stream ?? process.stderr;
  const prefix = opts.prefix ?? 'distill';
  const start = Date.now();
  const elapsed = () => `${((Date.now() - start) / 1000).toFixed(1)}s`;
  if (opts.quiet) return { done() {} };
  if (!out.isTTY) return lineReporter(out, prefix, elapsed);
  // Terminal: redraw a block of live lines, at most ~10 times a second.
  const active = new Map<string, { done: number; total: number; phase: string }>();
  let drawn = 0;
  let last = 0;
  let stepLine = '';
  let beatLine: string | undefined;
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    const lines = [`${prefix}: ${stepLine} ${elapsed()}`];
    if (beatLine !== undefined) lines.push(`  ${beatLine}`);
    for (const [d, e] of active) {
      const pct = e.total > 0 ? Math.floor((e.done / e.total) * 100) : 100;
      lines.push(
        `  ${short(d)} ${e.phase.padEnd(5)} ${formatBytes(e.done).padStart(9)} / ${formatBytes(e.total)} ${pct}%`,
      );
    }
    for (const l of lines) s += `\x1b[2K${l}\n`;
    out.write(`${s}\x1b[J`);
    drawn = lines.length;
  };
  return {
    step: (m) => {
      stepLine = m;
      beatLine = undefined;
      draw(true);
    },
    heartbeat: (p) => {
      const width = Math.max(40, (out.columns ?? 100) - 3);
      beatLine = `${seconds(p.elapsedMs)} ${p.lastLine ?? ''}`.slice(0, width);
      draw(true);
    },
    blob: (e) => {
      active.set(e.digest, e);
      const finished = e.done >= e.total;
      draw(finished);
      if (finished) active.delete(e.digest);
    },
    done: () => draw(true),
  };
}
