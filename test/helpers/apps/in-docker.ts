import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { APPS, appCopy } from '../apps.js';
import { freePort, tempDir } from '../components.js';
import { docker, removeImages } from '../docker.js';
import { type Checked, checkHttp, waitForAnswer } from './http.js';
import type { AppName } from './types.js';

/**
 * What e2e tests of the generated apps in the Docker engine share (frameworks.test.ts,
 * build-trace.test.ts): a temp directory with its own DISTILL_CACHE, fresh copies of the apps, and
 * the images and containers the test made, all removed after the describe block; and `serve`,
 * which runs an image with PORT set on the host network and asks the app's HTTP checks.
 *
 *     const e = appsInDocker('distill-frameworks-');   // inside describe(): registers before/after
 *     const app = await e.copy('next');
 *     ... distill build app -o docker-daemon:IMAGE, env: e.env; e.images.push(IMAGE) ...
 *     const { checked, cid } = await e.serve(IMAGE, 'next');
 */
export interface AppsInDocker {
  /** The temp directory (set in before()). */
  readonly dir: string;
  /** DISTILL_CACHE in the temp directory. */
  readonly env: NodeJS.ProcessEnv;
  /** Images to remove after the block. */
  readonly images: string[];
  /** A fresh copy of a generated app (no node_modules), removed after the block. */
  copy(name: AppName): Promise<string>;
  /**
   * Runs `image` with PORT set, waits for it, asks the app's checks; the container stays for the
   * test to look into (removed after the block). An error carries the container's logs.
   */
  serve(image: string, name: AppName): Promise<{ checked: Checked[]; cid: string }>;
}

export function appsInDocker(prefix: string): AppsInDocker {
  const containers: string[] = [];
  const copies: string[] = [];
  const scope = {
    dir: '',
    env: {} as NodeJS.ProcessEnv,
    images: [] as string[],
    async copy(name: AppName): Promise<string> {
      const d = await appCopy(name);
      copies.push(d);
      return d;
    },
    async serve(image: string, name: AppName) {
      const port = await freePort();
      const cid = docker(['run', '-d', '--network', 'host', '-e', `PORT=${port}`, image]).trim();
      containers.push(cid);
      const url = `http://127.0.0.1:${port}`;
      const first = APPS[name].checks[0]!.path;
      try {
        await waitForAnswer(url, typeof first === 'string' ? first : '/', { timeoutMs: 60_000 });
        return { checked: await checkHttp(url, APPS[name].checks), cid };
      } catch (err) {
        throw new Error(`${name}: ${(err as Error).message}\n${docker(['logs', cid])}`);
      }
    },
  };
  before(async () => {
    scope.dir = await tempDir(prefix);
    scope.env = { DISTILL_CACHE: join(scope.dir, 'cache') };
  });
  after(async () => {
    for (const c of containers) {
      try {
        docker(['rm', '-f', c]);
      } catch {
        // gone
      }
    }
    removeImages(scope.images);
    for (const c of copies) await rm(c, { recursive: true, force: true });
    if (scope.dir !== '') await rm(scope.dir, { recursive: true, force: true });
  });
  return scope;
}
