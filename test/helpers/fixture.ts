import { rm } from 'node:fs/promises';
import { after, before } from 'node:test';
import { tempDir } from './components.js';

export interface DirFixture<T> {
  /** The describe block's temporary directory (made before its tests, removed after them). */
  readonly dir: string;
  /** The resource, made on the first call in `dir` and shared by the block's tests. */
  get(): Promise<T>;
}

/**
 * A temporary directory and a resource made in it on first use (a served repository, the
 * offline world), for the tests of one describe block, or of a file when called at its top level:
 * registers the hooks that make the directory and, after the tests, close the resource (if it was
 * made) and remove the directory.
 */
export function dirFixture<T>(
  prefix: string,
  make: (dir: string) => Promise<T>,
  close: (made: T) => Promise<void>,
): DirFixture<T> {
  let dir = '';
  let made: Promise<T> | undefined;
  before(async () => {
    dir = await tempDir(prefix);
  });
  after(async () => {
    const m = await made?.catch(() => undefined);
    if (m !== undefined) await close(m);
    await rm(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    get: () => {
      made ??= make(dir);
      return made;
    },
  };
}
