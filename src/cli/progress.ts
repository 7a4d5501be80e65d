import type { TransferProgress } from '../media/blobs.js';

/**
 * Progress on stderr: on a terminal, one live line per blob being moved (bytes done of total);
 * otherwise one line per step and per finished blob; nothing with --quiet.
 */
export interface Reporter extends TransferProgress {
  done(): void;
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
  if (!out.isTTY) {
    const finished = new Set<string>();
    return {
      step: (m) => out.write(`${prefix}: ${m} (${elapsed()})\n`),
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
  // Terminal: redraw a block of live lines, at most ~10 times a second.
  const active = new Map<string, { done: number; total: number; phase: string }>();
  let drawn = 0;
  let last = 0;
  let stepLine = '';
  const draw = (force = false) => {
    const now = Date.now();
    if (!force && now - last < 100) return;
    last = now;
    let s = drawn > 0 ? `\x1b[${drawn}A` : '';
    const lines = [`${prefix}: ${stepLine} ${elapsed()}`];
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
