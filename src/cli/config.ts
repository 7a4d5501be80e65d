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

export function parseBaseFile(text: string, file: string): BaseFile {
  const lines = new LineCounter();
  // YAML 1.1, so that `mode: 0644` is the octal number people mean.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, version: '1.1' });
  const at = (node: Node | null | undefined) => {
    const offset = node?.range?.[0];
    return offset === undefined ? file : `${file}:${lines.linePos(offset).line}`;
  };
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
  const fail = (node: Node | null | undefined, field: string, problem: string): never => {
    throw new DistillError('CONFIG_FILE_INVALID', `${at(node)}: ${field} ${problem}`);
  };
  const map = root as YAMLMap<unknown, unknown>;
  const get = (key: string) => map.get(key, true) as Node | undefined;
  for (const pair of map.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    if (!FIELDS.includes(key))
      fail(pair.key as Node, key, `is not a field distill knows (fields: ${FIELDS.join(', ')})`);
  }
  const str = (key: string, node = get(key)): string | undefined => {
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'string') fail(node, key, 'must be a string');
    return (node as { value: string }).value;
  };
  const bool = (key: string): boolean | undefined => {
    const node = get(key);
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'boolean') fail(node, key, 'must be true or false');
    return (node as { value: boolean }).value;
  };
  const strList = (key: string): string[] | undefined => {
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
  };
  const variant = str('variant');
  if (variant === undefined) fail(root, 'variant', `is required (one of ${VARIANTS.join(', ')})`);
  if (!VARIANTS.includes(variant as Variant))
    fail(get('variant'), 'variant', `"${variant}" is not one of ${VARIANTS.join(', ')}`);
  const config = defaultBaseConfig(variant as Variant);
  const suites = strList('suites');
  if (suites) config.suites = suites;
  const arch = strList('arch');
  if (arch) config.archs = arch;
  config.nonroot = bool('nonroot') ?? false;
  config.debug = bool('debug') ?? false;
  config.packages = strList('packages') ?? [];
  const entrypoint = strList('entrypoint');
  if (entrypoint) config.entrypoint = entrypoint;
  const cmd = strList('cmd');
  if (cmd) config.cmd = cmd;
  const user = get('user');
  if (user !== undefined) {
    if (!isScalar(user) || (typeof user.value !== 'string' && typeof user.value !== 'number')) {
      fail(user, 'user', 'must be a name or a uid[:gid]');
    }
    config.user = String((user as { value: unknown }).value);
  }
  const workdir = str('workdir');
  if (workdir !== undefined) {
    if (!workdir.startsWith('/')) fail(get('workdir'), 'workdir', 'must be an absolute path');
    config.workdir = workdir;
  }
  const node = get('node');
  if (node !== undefined) {
    if (!isScalar(node)) fail(node, 'node', 'must be a version such as "24" or "24.11.1"');
    config.node = String((node as { value: unknown }).value);
  }
  const env = get('env');
  if (env !== undefined) {
    if (!isMap(env)) fail(env, 'env', 'must map names to values');
    for (const pair of (env as YAMLMap<unknown, unknown>).items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '';
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
        fail(pair.key as Node, `env.${k}`, 'is not a valid variable name');
      const v = pair.value;
      if (!isScalar(v) || v.value === null || typeof v.value === 'object')
        fail(v as Node, `env.${k}`, 'must be a string');
      config.env[k] = String((v as { value: unknown }).value);
    }
  }
  const files = get('files');
  if (files !== undefined) {
    if (!isSeq(files)) fail(files, 'files', 'must be a list of {path, content | from, mode}');
    (files as { items: unknown[] }).items.forEach((item, i) => {
      const where = `files[${i}]`;
      if (!isMap(item)) fail(item as Node, where, 'must be a mapping with path and content or from');
      const m = item as YAMLMap<unknown, unknown>;
      const f: Partial<ExtraFile> = {};
      for (const pair of m.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : '';
        const v = pair.value as Node;
        if (k === 'path' || k === 'content' || k === 'from') {
          if (!isScalar(v) || typeof v.value !== 'string') fail(v, `${where}.${k}`, 'must be a string');
          f[k] = (v as { value: string }).value;
        } else if (k === 'mode') {
          const raw = isScalar(v) ? v.value : undefined;
          const mode =
            typeof raw === 'number'
              ? raw
              : typeof raw === 'string' && /^0?[0-7]{3,4}$/.test(raw)
                ? Number.parseInt(raw, 8)
                : Number.NaN;
          if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
            fail(v, `${where}.mode`, 'must be an octal mode such as "0644"');
          f.mode = mode;
        } else {
          fail(pair.key as Node, `${where}.${k}`, 'is not a field of a file (path, content, from, mode)');
        }
      }
      if (f.path === undefined || !f.path.startsWith('/'))
        fail(item as Node, `${where}.path`, 'must be an absolute path in the image');
      if ((f.content === undefined) === (f.from === undefined))
        fail(item as Node, where, 'needs exactly one of content or from');
      config.files.push(f as ExtraFile);
    });
  }
  const mirror = mirrorField(get('mirror'), fail);
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
