/**
 * The HTTP checks of a generated app, the same whether the app runs on the host (the
 * self-test) or in a container built by distill or docker: GET a path, expect a status and a
 * part of the body; or find a URL in an earlier answer (a page's `/_next/static/…` asset) and
 * GET that.
 */
export interface HttpCheck {
  /** What the check shows, for messages. */
  what: string;
  /** A path to GET, or a URL path found by `pattern` in the body that `in` answered. */
  path: string | { in: string; pattern: RegExp };
  status: number;
  /** A part of the body. */
  includes?: string;
  /** The Content-Type must match. */
  contentType?: RegExp;
}

/** One check's result: the path asked and what answered. */
export interface Checked {
  what: string;
  path: string;
  status: number;
  bytes: number;
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000), redirect: 'manual' });
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

/**
 * Polls `base + path` until it answers at all (any status), for up to `timeoutMs`; `alive` is
 * asked between tries and may throw to stop early (the server exited).
 */
export async function waitForAnswer(
  base: string,
  path: string,
  opts: { timeoutMs?: number; alive?: () => void } = {},
): Promise<void> {
  const until = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: unknown;
  while (Date.now() < until) {
    opts.alive?.();
    try {
      await get(`${base}${path}`);
      return;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${base}${path} did not answer within ${opts.timeoutMs ?? 60_000} ms: ${String(last)}`);
}

/** Runs the checks in order against `base` (http://127.0.0.1:PORT); throws on the first miss. */
export async function checkHttp(base: string, checks: readonly HttpCheck[]): Promise<Checked[]> {
  const bodies = new Map<string, string>();
  const done: Checked[] = [];
  for (const c of checks) {
    let path: string;
    if (typeof c.path === 'string') path = c.path;
    else {
      const from = bodies.get(c.path.in) ?? (await get(`${base}${c.path.in}`)).body;
      const m = c.path.pattern.exec(from);
      if (!m)
        throw new Error(
          `${c.what}: nothing matches ${c.path.pattern} in GET ${c.path.in}:\n${from.slice(0, 500)}`,
        );
      path = m[0];
    }
    const r = await get(`${base}${path}`);
    bodies.set(path, r.body);
    const fail = (why: string) =>
      new Error(`${c.what}: GET ${path} ${why} (status ${r.status}, ${r.type}):\n${r.body.slice(0, 500)}`);
    if (r.status !== c.status) throw fail(`answered ${r.status}, expected ${c.status}`);
    if (c.includes !== undefined && !r.body.includes(c.includes)) throw fail(`has no "${c.includes}"`);
    if (c.contentType && !c.contentType.test(r.type)) throw fail(`is not ${c.contentType}`);
    done.push({ what: c.what, path, status: r.status, bytes: Buffer.byteLength(r.body) });
  }
  return done;
}
