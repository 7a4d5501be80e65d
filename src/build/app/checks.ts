import { join } from 'node:path';
import { DistillError } from '../../errors.js';
import type { AppPlan } from '../../plan/app.js';
import { NODE_APP_UNUSED_LIBS } from '../../plan/variants.js';
import type { NodeRuntime } from '../../sources/node/index.js';
import type { RecordValues } from '../../store/records.js';
import type { Store } from '../../store/store.js';
import type { AppBase } from './base.js';
import { archAdvice } from './cross-advice.js';
import { checkNativeFiles, findElfFiles, type NativeTarget, readAt } from './native.js';

/**
 * The native checks of an app build, against one architecture of its base: Node itself on a
 * --base image distill did not make (before anything installs), and every native file the
 * install left.
 */
export function nativeTarget(plan: AppPlan, base: AppBase, arch: string): NativeTarget {
  const libraries = base.libraries.get(arch);
  const glibc = base.glibc(arch);
  const advice = archAdvice(plan, arch);
  return {
    ...(advice !== undefined && { archAdvice: advice }),
    arch,
    ...(glibc !== undefined && { glibcVersion: glibc }),
    libraries: libraries ?? new Map(),
    ...(base.suggest && { suggestPackage: base.suggest(arch) }),
    ...(libraries === undefined && { skipLibraries: true }),
    ...(plan.base.kind === 'image' && {
      missingAdvice: `use a base image that has it (${plan.base.ref} does not)`,
    }),
    ...(plan.base.kind === 'debian' &&
      plan.base.lock.request.variant === 'node-app' && { leftOutAdvice: slimOsAdvice }),
  };
}

/** A glibc library the slim OS leaves out (src/plan/variants.ts) that an addon links. */
export function slimOsAdvice(soname: string): string | undefined {
  if (!NODE_APP_UNUSED_LIBS.includes(soname)) return undefined;
  return `distill's slim OS leaves this glibc library out, as nothing but such an addon loads it (docs/IMAGE-SIZE.md); build on a base that has it, e.g. --base with an image of \`distill base cc\``;
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
  const file = await store.file(rt.binary.digest);
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

/**
 * Kinds of layer entry (src/inspect/unsafe.ts) a --base image may not have: each writes or links
 * outside the directory a tool that does not confine names and links unpacks the image into, and
 * the base's layers go into the app image as they are (same digests; rewriting them would make
 * another base). A symlink whose relative target climbs above the root alone writes nothing (a
 * container resolves it inside its root) and is let through; an entry written through one is not.
 */
const REFUSED = new Set(['absolute-name', 'parent-reference', 'hardlink-outside', 'through-symlink']);
/** Entries named in the error; `distill inspect --deny unsafe-paths` lists them all. */
const NAMED = 20;

/** Refuses a --base image whose layers hold entries that leave the image root (BASE_UNSAFE). */
export function checkBaseEntries(
  where: string,
  files: Pick<RecordValues['base-files'], 'unsafe' | 'unsafeOmitted'>,
): void {
  const bad = files.unsafe.filter((u) => REFUSED.has(u.kind));
  if (bad.length === 0) return;
  const n = bad.length + files.unsafeOmitted;
  const more = n - Math.min(bad.length, NAMED);
  throw new DistillError(
    'BASE_UNSAFE',
    [
      `${where} has ${n}${files.unsafeOmitted > 0 ? ' or more' : ''} layer entries that leave the image root (absolute or ".." names, hardlinks to outside, writes through a symlink leading out); a tool unpacking the image without confining them writes or links files of its own machine, and distill copies a base's layers into the image as they are:`,
      ...bad
        .slice(0, NAMED)
        .map((u) => `  layer ${u.layer} "${u.path}": ${u.kind}${u.target !== null ? ` (${u.target})` : ''}`),
      ...(more > 0 ? [`  and ${more} more`] : []),
      "Use another base (distill's own, without --base), or make this one again from a container's files (docker export of a container of it, then docker import), which leaves such entries out; distill inspect REF --deny unsafe-paths lists them.",
    ].join('\n'),
  );
}
