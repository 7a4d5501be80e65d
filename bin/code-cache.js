// Node 20's stand-in for the module compile cache (decision 0030). Node 22.1 and newer keep V8's
// compiled code of ES modules between runs (bin/distill.js turns that on); Node 20 has no such
// cache, and V8 accepts a code cache only for a classic script (vm.Script's cachedData). So on
// Node 20 the bin runs dist/bundle/distill.cjs, the same program bundled as one CommonJS script
// (scripts/bundle.mjs), through vm.Script with the code V8 compiled on an earlier run of the same
// bundle, Node and flags. A warm build then compiles next to nothing: about 0.8x the CPU.
//
// The cache (one file per bundle, Node, flags and command: a first `--version` must not leave
// `build` to compile everything lazily) lives in os.tmpdir()/distill-code-cache-<uid>, a
// directory only its owner can write, checked before use. A file is written at exit, through a
// temporary name and a rename, after a run that had none, whose data V8 rejected, or that ran
// REFRESH times as long as the run that wrote it (an interrupted first build must not leave every
// later build compiling lazily). One that ran REFRESH times shorter (SHORTER_THAN_COMPILED when
// the writer had no cache, as a cold build) removes it, for the next run to write anew: V8 deserializes all of a file at start, and the 1.7 MB a cold build leaves cost
// a warm build 15 % more CPU than the 1.2 MB a warm build writes. Each carries a
// CRC-32, as V8's release builds check only the data's header; a file that fails it is ignored
// and written anew. Writing one removes those written over 30 days ago, and all but the 32 newest.
// NODE_DISABLE_COMPILE_CACHE=1, Node's own switch, turns this off too: then the ESM bundle runs.
// Written by hand: v8-compile-cache does this for require()d modules, not for one vm.Script.
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import vm from 'node:vm';
import zlib from 'node:zlib';

const MAGIC = Buffer.from('distill-v8-cache1');
const HASH_LINE = '\n// distill-sha256:';
const MAX_AGE_MS = 30 * 24 * 3_600_000;
const REFRESH = 4;
const SHORTER_THAN_COMPILED = 20;
const MAX_FILES = 32;

/** Whether this Node runs the classic script with a code cache rather than the ESM bundle. */
export function useCodeCache(env = process.env) {
  return (
    typeof module.enableCompileCache !== 'function' &&
    env.NODE_DISABLE_COMPILE_CACHE !== '1' &&
    vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER !== undefined &&
    typeof zlib.crc32 === 'function'
  );
}

/** The cache directory, made if absent; undefined when it is not this user's alone. */
export function cacheDir() {
  const uid = process.getuid?.() ?? -1;
  const dir = join(tmpdir(), `distill-code-cache-${uid < 0 ? 'user' : uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if (err.code !== 'EEXIST') return undefined;
  }
  try {
    const s = lstatSync(dir);
    const mine = uid < 0 || s.uid === uid;
    return s.isDirectory() && mine && (s.mode & 0o077) === 0 ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The cache file's name: the bundle's hash, Node, its flags and the command (first word). */
function cacheName(bundleHash, argv, env) {
  const word = argv.find((a) => !a.startsWith('-')) ?? '';
  const command = /^[a-z][a-z-]{0,31}$/.test(word) ? word : '_';
  const key = [bundleHash, process.version, process.arch, process.execArgv.join(' '), env.NODE_OPTIONS ?? ''];
  return `${command}-${createHash('sha256').update(key.join('\0')).digest('hex').slice(0, 32)}.v8`;
}

/**
 * The file: MAGIC, the CRC-32 of the rest, how long (ms) the run that wrote it took, the data.
 * Returns the data and that time, or why there is none.
 */
function readCache(file) {
  let buf;
  try {
    buf = readFileSync(file);
  } catch {
    return { why: 'miss' };
  }
  const head = MAGIC.length + 8;
  const ok =
    buf.length > head &&
    buf.subarray(0, MAGIC.length).equals(MAGIC) &&
    buf.readUInt32BE(MAGIC.length) === zlib.crc32(buf.subarray(MAGIC.length + 4));
  if (!ok) return { why: 'corrupt' };
  const field = buf.readUInt32BE(MAGIC.length + 4);
  return { data: buf.subarray(head), ms: field & 0x7fffffff, compiled: field >>> 31 === 1 };
}

/** `compiled`: the writing run had no cache (so it was slower than the runs that use it). */
function writeCache(file, data, ms, compiled) {
  const rest = Buffer.concat([Buffer.alloc(4), data]);
  rest.writeUInt32BE((Math.min(Math.round(ms), 0x7fffffff) | (compiled ? 0x80000000 : 0)) >>> 0);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(zlib.crc32(rest));
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, Buffer.concat([MAGIC, crc, rest]), { mode: 0o600 });
  renameSync(tmp, file);
  // Every rebuild of a checkout's bundle has a new hash: keep the newest files, none too old.
  const dir = dirname(file);
  const files = readdirSync(dir).map((name) => ({
    p: join(dir, name),
    t: statSync(join(dir, name)).mtimeMs,
  }));
  files.sort((a, b) => b.t - a.t);
  for (const [i, f] of files.entries()) {
    if (f.p !== file && (i >= MAX_FILES || Date.now() - f.t > MAX_AGE_MS)) rmSync(f.p, { force: true });
  }
}

/**
 * Runs the classic script `file` as Node runs a CommonJS module, with V8's code cache. False,
 * having run nothing, when there is no place for the cache (a temp directory others can write
 * to) or no key (a script scripts/bundle.mjs did not write): without its cache the script starts
 * slower than the ESM bundle, which the caller runs then. `DISTILL_CODE_CACHE_TRACE` names a file
 * to which what happened is appended (hit, miss, corrupt, rejected, wrote, unsafe, unkeyed).
 */
export function runScript(file, argv = process.argv.slice(2), env = process.env) {
  const trace = (what) =>
    env.DISTILL_CODE_CACHE_TRACE && appendFileSync(env.DISTILL_CODE_CACHE_TRACE, `${what}\n`);
  // ASCII (scripts/bundle.mjs checks): latin1 makes the one-byte string UTF-8 would, faster.
  const source = readFileSync(file, 'latin1');
  const at = source.lastIndexOf(HASH_LINE);
  const bundleHash = at < 0 ? '' : source.slice(at + HASH_LINE.length, at + HASH_LINE.length + 64);
  const dir = /^[0-9a-f]{64}$/.test(bundleHash) ? cacheDir() : undefined;
  if (dir === undefined) {
    trace(bundleHash ? 'unsafe' : 'unkeyed');
    return false;
  }
  const cacheFile = join(dir, cacheName(bundleHash, argv, env));
  const cached = readCache(cacheFile);
  // The file is Node's CommonJS wrapper around the code (scripts/bundle.mjs).
  const script = new vm.Script(source, {
    filename: file,
    cachedData: cached.data,
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const why = cached.data === undefined ? cached.why : script.cachedDataRejected ? 'rejected' : 'hit';
  trace(why);
  const started = performance.now();
  process.once('exit', () => {
    const ms = performance.now() - started;
    const hit = why === 'hit';
    // A run that compiled everything takes several times as long as one that did not.
    const shorter = hit && ms * (cached.compiled ? SHORTER_THAN_COMPILED : REFRESH) <= cached.ms;
    if (hit && !shorter && ms < REFRESH * cached.ms) return;
    try {
      // The data of a run holds every function compiled in it, the cached ones too: a leaner
      // file needs a run without one, the next.
      if (shorter) {
        rmSync(cacheFile, { force: true });
        trace('dropped');
        return;
      }
      const data = script.createCachedData();
      writeCache(cacheFile, data, ms, !hit);
      trace(`wrote ${data.length}`);
    } catch {
      // A full or read-only temp directory: the next run compiles again.
    }
  });
  const cjs = { exports: {} };
  script.runInThisContext().call(cjs.exports, cjs.exports, createRequire(file), cjs, file, dirname(file));
  return true;
}
