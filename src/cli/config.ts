import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';
import { DistillError } from '../errors.js';
import { type BaseConfig, defaultBaseConfig, type ExtraFile } from '../plan/base.js';
import { type MirrorChoice, mirrorUrlProblem, normalizeMirrorUrl } from '../plan/mirrors.js';
import { VARIANTS, type Variant } from '../plan/variants.js';

/**
 * `distill base -f base.yaml`: the same fields as the flags, plus env, entrypoint, cmd, user,
 * workdir and extra files. Validated by hand against this small schema so that every error
 * names the field and its line ("base.yaml:7: packages[1] must be a string").
 */
export interface BaseFile {
  config: BaseConfig;
  /** `mirror: URL` (every suite) or `mirror: {SUITE: URL, ...}`. */
  mirror?: MirrorChoice;
}

const FIELDS = [
  'variant',
  'suites',
  'arch',
  'nonroot',
  'debug',
  'packages',
  'env',
  'entrypoint',
  'cmd',
  'user',
  'workdir',
  'files',
  'mirror',
  'node',
];

export async function readBaseFile(file: string): Promise<BaseFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DistillError('NOT_FOUND', `cannot read ${file}`, { cause: err });
  }
  return parseBaseFile(text, file);
}

/** A parsed YAML mapping's fields, read with errors that name the field and its line. */
interface Fields {
  get(key: string): Node | undefined;
  fail(node: Node | null | undefined, field: string, problem: string): never;
  str(key: string): string | undefined;
  bool(key: string): boolean | undefined;
  strList(key: string): string[] | undefined;
}

function fieldsOf(map: YAMLMap<unknown, unknown>, file: string, lines: LineCounter): Fields {
  const at = (node: Node | null | undefined) => {
    const offset = node?.range?.[0];
    return offset === undefined ? file : `${file}:${lines.linePos(offset).line}`;
  };
  const fail = (node: Node | null | undefined, field: string, problem: string): never => {
    throw new DistillError('CONFIG_FILE_INVALID', `${at(node)}: ${field} ${problem}`);
  };
  const get = (key: string) => map.get(key, true) as Node | undefined;
  return {
    get,
    fail,
    str: (key) => {
      const node = get(key);
      if (node === undefined) return undefined;
      if (!isScalar(node) || typeof node.value !== 'string') fail(node, key, 'must be a string');
      return (node as { value: string }).value;
    },
    bool: (key) => {
      const node = get(key);
      if (node === undefined) return undefined;
      if (!isScalar(node) || typeof node.value !== 'boolean') fail(node, key, 'must be true or false');
      return (node as { value: boolean }).value;
    },
    strList: (key) => {
      const node = get(key);
      if (node === undefined) return undefined;
      if (isScalar(node) && typeof node.value === 'string') return [node.value];
      if (!isSeq(node)) fail(node, key, 'must be a list of strings');
      return (node as { items: unknown[] }).items.map((item, i) => {
        if (!isScalar(item) || (typeof item.value !== 'string' && typeof item.value !== 'number')) {
          fail(item as Node, `${key}[${i}]`, 'must be a string');
        }
        return String((item as { value: unknown }).value);
      });
    },
  };
}

/** user, workdir and node: scalars with their own rules. */
function readScalars(f: Fields, config: BaseConfig): void {
  const user = f.get('user');
  if (user !== undefined) {
    if (!isScalar(user) || (typeof user.value !== 'string' && typeof user.value !== 'number')) {
      f.fail(user, 'user', 'must be a name or a uid[:gid]');
    }
    config.user = String((user as { value: unknown }).value);
  }
  const workdir = f.str('workdir');
  if (workdir !== undefined) {
    if (!workdir.startsWith('/')) f.fail(f.get('workdir'), 'workdir', 'must be an absolute path');
    config.workdir = workdir;
  }
  const node = f.get('node');
  if (node !== undefined) {
    if (!isScalar(node)) f.fail(node, 'node', 'must be a version such as "24" or "24.11.1"');
    config.node = String((node as { value: unknown }).value);
  }
}

function readEnv(f: Fields, config: BaseConfig): void {
  const env = f.get('env');
  if (env === undefined) return;
  if (!isMap(env)) f.fail(env, 'env', 'must map names to values');
  for (const pair of (env as YAMLMap<unknown, unknown>).items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
      f.fail(pair.key as Node, `env.${k}`, 'is not a valid variable name');
    const v = pair.value;
    if (!isScalar(v) || v.value === null || typeof v.value === 'object')
      f.fail(v as Node, `env.${k}`, 'must be a string');
    config.env[k] = String((v as { value: unknown }).value);
  }
}

/** One item of `files`: {path, content | from, mode}. */
function readFileItem(f: Fields, item: unknown, i: number): ExtraFile {
  const where = `files[${i}]`;
  if (!isMap(item)) f.fail(item as Node, where, 'must be a mapping with path and content or from');
  const out: Partial<ExtraFile> = {};
  for (const pair of (item as YAMLMap<unknown, unknown>).items) {
    const k = isScalar(pair.key) ? String(pair.key.value) : '';
    const v = pair.value as Node;
    if (k === 'path' || k === 'content' || k === 'from') {
      if (!isScalar(v) || typeof v.value !== 'string') f.fail(v, `${where}.${k}`, 'must be a string');
      out[k] = (v as { value: string }).value;
    } else if (k === 'mode') {
      const raw = isScalar(v) ? v.value : undefined;
      const mode =
        typeof raw === 'number'
          ? raw
          : typeof raw === 'string' && /^0?[0-7]{3,4}$/.test(raw)
            ? Number.parseInt(raw, 8)
            : Number.NaN;
      if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
        f.fail(v, `${where}.mode`, 'must be an octal mode such as "0644"');
      out.mode = mode;
    } else {
      f.fail(pair.key as Node, `${where}.${k}`, 'is not a field of a file (path, content, from, mode)');
    }
  }
  if (out.path === undefined || !out.path.startsWith('/'))
    f.fail(item as Node, `${where}.path`, 'must be an absolute path in the image');
  if ((out.content === undefined) === (out.from === undefined))
    f.fail(item as Node, where, 'needs exactly one of content or from');
  return out as ExtraFile;
}

export function parseBaseFile(text: string, file: string): BaseFile {
  const lines = new LineCounter();
  // YAML 1.1, so that `mode: 0644` is the octal number people mean.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, version: '1.1' });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new DistillError(
      'CONFIG_FILE_INVALID',
      `${file}:${e.linePos?.[0]?.line ?? '?'}: not valid YAML (${e.message.split('\n')[0]})`,
    );
  }
  const root = doc.contents;
  if (!isMap(root))
    throw new DistillError(
      'CONFIG_FILE_INVALID',
      `${file}: must be a mapping of fields (variant: ..., packages: [...])`,
    );
  const map = root as YAMLMap<unknown, unknown>;
  const f = fieldsOf(map, file, lines);
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (!FIELDS.includes(key))
      f.fail(pair.key as Node, key, `is not a field distill knows (fields: ${FIELDS.join(', ')})`);
  }
  const variant = f.str('variant');
  if (variant === undefined) f.fail(root, 'variant', `is required (one of ${VARIANTS.join(', ')})`);
  if (!VARIANTS.includes(variant as Variant))
    f.fail(f.get('variant'), 'variant', `"${variant}" is not one of ${VARIANTS.join(', ')}`);
  const config = defaultBaseConfig(variant as Variant);
  const suites = f.strList('suites');
  if (suites) config.suites = suites;
  const arch = f.strList('arch');
  if (arch) config.archs = arch;
  config.nonroot = f.bool('nonroot') ?? false;
  config.debug = f.bool('debug') ?? false;
  config.packages = f.strList('packages') ?? [];
  const entrypoint = f.strList('entrypoint');
  if (entrypoint) config.entrypoint = entrypoint;
  const cmd = f.strList('cmd');
  if (cmd) config.cmd = cmd;
  readScalars(f, config);
  readEnv(f, config);
  const files = f.get('files');
  if (files !== undefined) {
    if (!isSeq(files)) f.fail(files, 'files', 'must be a list of {path, content | from, mode}');
    (files as { items: unknown[] }).items.forEach((item, i) => {
      config.files.push(readFileItem(f, item, i));
    });
  }
  const mirror = mirrorField(f.get('mirror'), f.fail);
  return { config, ...(mirror !== undefined && { mirror }) };
}

/** `mirror:` as a URL for every suite, or a map of suite to URL; each URL checked. */
function mirrorField(
  node: Node | undefined,
  fail: (node: Node | null | undefined, field: string, problem: string) => never,
): MirrorChoice | undefined {
  if (node === undefined) return undefined;
  const url = (v: unknown, field: string): string => {
    if (!isScalar(v) || typeof v.value !== 'string') fail(v as Node, field, 'must be a URL');
    const text = (v as { value: string }).value;
    const problem = mirrorUrlProblem(text);
    if (problem !== undefined) fail(v as Node, field, `"${text}" ${problem}`);
    return normalizeMirrorUrl(text);
  };
  if (isScalar(node)) return { all: url(node, 'mirror'), suites: {} };
  if (!isMap(node)) fail(node, 'mirror', 'must be a URL or a map of suite to URL');
  const suites: Record<string, string> = {};
  for (const pair of (node as YAMLMap<unknown, unknown>).items) {
    const suite = isScalar(pair.key) ? String(pair.key.value) : '';
    if (!/^[A-Za-z0-9][A-Za-z0-9._/-]*$/.test(suite))
      fail(pair.key as Node, `mirror.${suite}`, 'is not a suite name');
    suites[suite] = url(pair.value, `mirror.${suite}`);
  }
  return { suites };
}
