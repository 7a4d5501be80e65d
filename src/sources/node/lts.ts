/**
 * The Node.js release lines: for each major (and each 0.x minor before io.js merged), the day it
 * started, became LTS, entered maintenance and reaches its end of life, and its LTS codename.
 *
 * One source of truth: the Node.js Release Working Group's schedule.json (github.com/nodejs/Release),
 * as the `node-releases` npm package republishes it (data/release-schedule/release-schedule.json;
 * the data browserslist uses; four releases between 2026-11-13 and 2026-12-01). nodejs.org is
 * not reachable from every machine distill runs on and the npm registry is, so a copy travels with
 * the package instead of being fetched: a newer distill install (or `npm update node-releases`)
 * brings newer codenames and dates. A line the installed data does not know yet has no codename
 * (`lts/<codename>` then falls back to the codenames of a mirror's index.json, see
 * PickOptions.ltsCodenames) and no end-of-life date (no warning).
 */
import schedule from 'node-releases/data/release-schedule/release-schedule.json' with { type: 'json' };

export interface NodeLine {
  /** `24`, or `0.12` for the 0.x lines. */
  line: string;
  major: number;
  /** Only for the 0.x lines. */
  minor: number | undefined;
  /** As published (`Iron`, `Jod`, ...); undefined for a line without one (odd majors, or not announced yet). */
  codename: string | undefined;
  /** First day of the line (its .0.0 release), UTC (YYYY-MM-DD). */
  start: string;
  /** First day of Active LTS; undefined for a line that never becomes LTS. */
  lts: string | undefined;
  /** First day of Maintenance; undefined when not scheduled. */
  maintenance: string | undefined;
  /** The day support ends (end of life). */
  end: string;
}

const DAY_RE = /^\d{4}-\d{2}-\d{2}$/;

function parseSchedule(data: Record<string, unknown>): NodeLine[] {
  const lines: NodeLine[] = [];
  for (const [key, raw] of Object.entries(data)) {
    const m = /^v(\d+)(?:\.(\d+))?$/.exec(key);
    const rec = raw as Record<string, unknown> | null;
    if (!m || !rec) continue;
    const day = (k: string) => (typeof rec[k] === 'string' && DAY_RE.test(rec[k]) ? rec[k] : undefined);
    const start = day('start') ?? day('alpha');
    const end = day('end');
    if (start === undefined || end === undefined) continue;
    const codename = typeof rec.codename === 'string' && rec.codename !== '' ? rec.codename : undefined;
    lines.push({
      line: m[2] === undefined ? m[1]! : `${m[1]}.${m[2]}`,
      major: Number(m[1]),
      minor: m[2] === undefined ? undefined : Number(m[2]),
      codename,
      start,
      lts: day('lts'),
      maintenance: day('maintenance'),
      end,
    });
  }
  return lines.sort((a, b) => a.major - b.major || (a.minor ?? 0) - (b.minor ?? 0));
}

/** Every release line the schedule knows, oldest first. */
export const NODE_LINES: readonly NodeLine[] = parseSchedule(schedule as Record<string, unknown>);

/** An LTS line: one that has (or will have) an Active LTS start. */
export interface LtsLine {
  major: number;
  /** As published; undefined when not announced yet. */
  codename: string | undefined;
  /** First day of Active LTS, UTC (YYYY-MM-DD). */
  lts: string;
  /** The day Maintenance LTS ends, UTC (YYYY-MM-DD). */
  end: string;
}

export const LTS_LINES: readonly LtsLine[] = NODE_LINES.filter(
  (l): l is NodeLine & { lts: string } => l.lts !== undefined && l.minor === undefined,
).map((l) => ({ major: l.major, codename: l.codename, lts: l.lts, end: l.end }));

function day(s: string): number {
  return Date.parse(`${s}T00:00:00Z`);
}

/** The LTS lines whose Active LTS has started on `date`, newest first. */
export function startedLts(date: Date): LtsLine[] {
  const t = date.getTime();
  return LTS_LINES.filter((l) => day(l.lts) <= t).sort((a, b) => b.major - a.major);
}

/**
 * The active LTS line on `date`: the newest major whose LTS start is on or before that day.
 * `codename` is `unknown` for a line whose codename is not in the data yet.
 */
export function activeLts(date: Date): { major: number; codename: string } {
  // Before the first LTS line existed there was none; the first is the only sensible answer.
  const pick = startedLts(date)[0] ?? LTS_LINES[0]!;
  return { major: pick.major, codename: pick.codename ?? 'unknown' };
}

/** The major of an LTS codename (case-insensitive); undefined when unknown. */
export function ltsMajorOf(codename: string): number | undefined {
  const c = codename.toLowerCase();
  return LTS_LINES.find((l) => l.codename?.toLowerCase() === c)?.major;
}

/** The release line a version (`18.14.0`, `0.12.18`) belongs to; undefined when the schedule lacks it. */
export function nodeLineOf(version: string): NodeLine | undefined {
  const m = /^v?(\d+)\.(\d+)\./.exec(version);
  if (!m) return undefined;
  const major = Number(m[1]);
  const minor = Number(m[2]);
  return NODE_LINES.find((l) => l.major === major && (l.minor === undefined || l.minor === minor));
}

/**
 * The end of life of a version's line when it has come by `date` (on or after the line's end
 * day, as nodejs.org's "End-of-life" column reads); undefined while the line is supported or when
 * the schedule lacks it.
 */
export function endOfLife(version: string, date: Date): { line: string; end: string } | undefined {
  const line = nodeLineOf(version);
  if (!line) return undefined;
  return date.getTime() >= day(line.end) ? { line: line.line, end: line.end } : undefined;
}
