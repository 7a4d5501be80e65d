import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import type { AppPlan } from '../../plan/app.js';
import type { NodeRuntime } from '../../sources/node/index.js';
import type { Store } from '../../store/store.js';
import type { AppBase } from './base.js';
import { checkNativeFiles, findElfFiles, type NativeTarget, readAt } from './native.js';

/**
 * The native checks of an app build, against one architecture of its base: Node itself on a
 * --base image distill did not make (before anything installs), and every native file the
 * install left.
 */
export function nativeTarget(plan: AppPlan, base: AppBase, arch: string): NativeTarget {
  const libraries = base.libraries.get(arch);
  const glibc = base.glibc(arch);
  return {
    arch,
    ...(glibc !== undefined && { glibcVersion: glibc }),
    libraries: libraries ?? new Map(),
    ...(base.suggest && { suggestPackage: base.suggest(arch) }),
    ...(libraries === undefined && { skipLibraries: true }),
    ...(plan.base.kind === 'image' && {
      missingAdvice: `use a base image that has it (${plan.base.ref} does not)`,
    }),
  };
}

/** Node must load in a base distill did not make: glibc, and the libraries it links against. */
export async function checkNodeOnBase(
  store: Store,
  rt: NodeRuntime,
  ref: string,
  libc: { family: string } | undefined,
  target: NativeTarget,
): Promise<void> {
  if (libc !== undefined && libc.family !== 'glibc') {
    throw new DistillError(
      'NATIVE_ADDON_INVALID',
      `${ref} has ${libc.family === 'musl' ? 'musl as its libc (an Alpine-like image)' : 'no libc'} for linux/${target.arch}, but the official Node binary needs glibc; use a glibc base (Debian, Ubuntu, distroless cc) or leave out --base`,
    );
  }
  const file = store.blobPath(rt.binary.digest);
  const r = await checkNativeFiles(
    [{ path: 'nodejs/bin/node', size: rt.binary.size, read: (o, l) => readAt(file, o, l) }],
    target,
  );
  if (r.problems.length > 0) {
    throw new DistillError(
      'NATIVE_ADDON_INVALID',
      `Node ${rt.version} would not run on ${ref}: ${r.problems.map((p) => p.message).join('; ')}`,
    );
  }
}

/** Every `.node` and ELF file of an install's scratch copy, checked against the image. */
export async function checkInstall(
  scratch: string,
  target: NativeTarget,
  step?: (message: string) => void,
): Promise<void> {
  const files = await findElfFiles(join(scratch));
  if (files.length === 0) return;
  step?.(`checking ${files.length} native files against linux/${target.arch}`);
  const r = await checkNativeFiles(
    files.map((f) => ({ ...f, path: `app/${f.path}` })),
    target,
  );
  if (r.problems.length > 0) {
    throw new DistillError(
      'NATIVE_ADDON_INVALID',
      r.problems.length === 1
        ? r.problems[0]!.message
        : `${r.problems.length} native files would not load in the image:\n${r.problems.map((p) => `  - ${p.message}`).join('\n')}`,
    );
  }
}
