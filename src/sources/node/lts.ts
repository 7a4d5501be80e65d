/**
 * The Node.js long-term-support lines: major, codename, the day it became (or becomes) LTS and the
 * day its support ends, as the Node.js Release Working Group publishes them (nodejs/Release
 * schedule.json). Node 26 had no published codename when this table was written; it is listed
 * without one and reported as `unknown` until it is filled in here. From Node 27 on every major
 * becomes LTS (one major a year); add each line as it is announced.
 */
export interface LtsLine {
  major: number;
  /** As published (`Iron`, `Jod`, ...); undefined when not published yet. */
  codename: string | undefined;
  /** First day of Active LTS, UTC (YYYY-MM-DD). */
  lts: string;
  /** Last day of Maintenance LTS, UTC (YYYY-MM-DD). */
  end: string;
}

export const LTS_LINES: readonly LtsLine[] = [
  { major: 4, codename: 'Argon', lts: '2015-10-01', end: '2018-04-30' },
  { major: 6, codename: 'Boron', lts: '2016-10-18', end: '2019-04-30' },
  { major: 8, codename: 'Carbon', lts: '2017-10-31', end: '2019-12-31' },
  { major: 10, codename: 'Dubnium', lts: '2018-10-30', end: '2021-04-30' },
  { major: 12, codename: 'Erbium', lts: '2019-10-21', end: '2022-04-30' },
  { major: 14, codename: 'Fermium', lts: '2020-10-27', end: '2023-04-30' },
  { major: 16, codename: 'Gallium', lts: '2021-10-26', end: '2023-09-11' },
  { major: 18, codename: 'Hydrogen', lts: '2022-10-25', end: '2025-04-30' },
  { major: 20, codename: 'Iron', lts: '2023-10-24', end: '2026-04-30' },
  { major: 22, codename: 'Jod', lts: '2024-10-29', end: '2027-04-30' },
  { major: 24, codename: 'Krypton', lts: '2025-10-28', end: '2028-04-30' },
  { major: 26, codename: undefined, lts: '2026-10-28', end: '2029-04-30' },
];

function day(s: string): number {
  return Date.parse(`${s}T00:00:00Z`);
}

/**
 * The active LTS line on `date`: the newest major whose LTS start is on or before that day.
 * `codename` is `unknown` for a line whose codename is not in the table yet.
 */
export function activeLts(date: Date): { major: number; codename: string } {
  const t = date.getTime();
  let best: LtsLine | undefined;
  for (const line of LTS_LINES) {
    if (day(line.lts) <= t && (!best || line.major > best.major)) best = line;
  }
  // Before the first LTS line existed there was none; Argon is the only sensible answer.
  const pick = best ?? LTS_LINES[0]!;
  return { major: pick.major, codename: pick.codename ?? 'unknown' };
}

/** The major of an LTS codename (case-insensitive), from the table; undefined when unknown. */
export function ltsMajorOf(codename: string): number | undefined {
  const c = codename.toLowerCase();
  return LTS_LINES.find((l) => l.codename?.toLowerCase() === c)?.major;
}
