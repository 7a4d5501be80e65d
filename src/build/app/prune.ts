import type { PruneResult } from '../../plan/prune.js';
import type { TraceResult } from '../../plan/trace.js';

const size = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${Math.ceil(n / 1024)} KiB`);

/** "812 files (6.1 MiB: markdown 300 files 2.0 MiB, ...)", the biggest rules first. */
export function pruneSummary(r: PruneResult): string {
  const rules = Object.entries(r.byRule)
    .sort((a, b) => b[1].bytes - a[1].bytes || a[0].localeCompare(b[0]))
    .map(([id, c]) => `${id} ${c.files} files ${size(c.bytes)}`);
  const ts = r.compiler ? '; typescript is installed, so .d.ts and .ts files stay' : '';
  return `${r.files} files (${size(r.bytes)}${rules.length > 0 ? `: ${rules.join(', ')}` : ''}${ts})`;
}

/** "keeps 120 files, leaves out 3400 files (12.0 MiB; 40 packages whole)", and what nft could not follow. */
export function traceSummary(r: TraceResult): string {
  const warned =
    r.warnings.length > 0
      ? `; the tracer could not follow ${r.warnings.length} place(s), e.g. ${r.warnings[0]} (--trace-include GLOB keeps what they load)`
      : '';
  return `keeps ${r.keptFiles} files, leaves out ${r.files} files (${size(r.bytes)}; ${r.droppedPackages.length} packages whole)${warned}`;
}
