import { open } from 'node:fs/promises';
import { DistillError, isDistillError } from '../../errors.js';

/**
 * What a failed install says about its cause, besides the package manager's own output: a native
 * addon that did not compile is named with the Node release, its ABI and where that release was
 * chosen from (issue 15: better-sqlite3 failed against Node 26 while `.node-version` said 18, and
 * nothing said so); the build logs yarn berry writes to files are read before the scratch copy
 * that holds them is removed.
 */

/** Lines only a failed native compile prints: node-gyp, node-pre-gyp, make, the C/C++ compiler. */
const NATIVE_FAILURE = [
  /gyp ERR!/,
  /node-pre-gyp ERR!/,
  /make: \*\*\* /,
  /\.(?:c|cc|cpp|cxx|h|hpp):\d+:\d+: (?:fatal )?error: /,
];

/** Whether an install's output (or an error carrying its end) shows a native compile failure. */
export function nativeCompileFailed(text: string): boolean {
  return NATIVE_FAILURE.some((re) => re.test(text));
}

/** The package whose native build failed, when the output names it. */
export function failedAddon(text: string): string | undefined {
  // yarn berry: `YN0009: │ better-sqlite3@npm:11.3.0 couldn't be built successfully`
  const berry = /YN0009: \S*\s*((?:@[\w.-]+\/)?[\w.-]+)@\S+ couldn't be built/.exec(text);
  if (berry) return berry[1];
  // npm's `npm error path …/node_modules/better-sqlite3`, node-gyp's `gyp ERR! cwd …`, pnpm's
  // `…/node_modules/better-sqlite3 install$ …`, yarn classic's `…/node_modules/better-sqlite3:`.
  const names = [...text.matchAll(/node_modules\/((?:@[\w.-]+\/)?[\w.-]+)(?=[\s:]|$)/gm)]
    .map((m) => m[1]!)
    .filter((n) => !n.startsWith('.'));
  return names.at(-1);
}

/** The Node an install compiled against, as the plan chose it. */
export interface CompileTarget {
  version: string;
  /** NODE_MODULE_VERSION of that release. */
  abi: string;
  /** Where the release was chosen from: `.node-version "18.14.0"`, `engines.node in package.json ">=18"`. */
  origin: string;
}

/**
 * The error of a failed install, with the Node it compiled for in front when a native addon did
 * not compile; any other error as it was.
 */
export function withCompileTarget(err: unknown, node: CompileTarget): unknown {
  if (!isDistillError(err, 'APP_BUILD_FAILED') || !nativeCompileFailed(err.message)) return err;
  const addon = failedAddon(err.message);
  return new DistillError(
    'APP_BUILD_FAILED',
    `${addon ?? 'a native addon'} did not compile for Node ${node.version} (ABI: NODE_MODULE_VERSION ${node.abi}), chosen from ${node.origin}; ` +
      `if ${addon ?? 'the addon'} does not support that Node yet, choose a release it supports (--node, .node-version or engines.node) or a version of ${addon ?? 'the addon'} that supports this one\n${err.message}`,
    { cause: err },
  );
}

const LOG_TAIL_BYTES = 8192;

/**
 * The ends of the build logs an output points at (yarn berry: `logs can be found here:
 * /…/build.log`), read while they still exist: they live in the install's temporary directory,
 * which is inside the scratch copy and removed with it. Empty when there is none, else a newline
 * and each log's end.
 */
export async function buildLogTails(output: string): Promise<string> {
  const paths = new Set([...output.matchAll(/logs can be found here: (\/\S+?\.log)\b/g)].map((m) => m[1]!));
  const out: string[] = [];
  for (const path of paths) {
    const fh = await open(path, 'r').catch(() => undefined);
    if (!fh) continue;
    try {
      const { size } = await fh.stat();
      const length = Math.min(size, LOG_TAIL_BYTES);
      const buf = Buffer.alloc(length);
      await fh.read(buf, 0, length, size - length);
      out.push(`--- ${path}${size > length ? ' (its end)' : ''} ---\n${buf.toString('utf8').trimEnd()}`);
    } finally {
      await fh.close();
    }
  }
  return out.map((l) => `\n${l}`).join('');
}
