import { readLayer } from '../../layers/read.js';
import type { Layer } from '../../oci/image.js';
import type { Store } from '../../store/store.js';

/**
 * The file tree of an app image's own layers (node_modules and the app), as the smoke check
 * (smoke.ts) reads it: every path with its type and symlink target, the fields of every
 * package.json that resolution reads, and the text of the app's JavaScript files. Read from the
 * layer blobs distill just built, so what is checked is what the image holds. The node_modules
 * layer's index holds no JavaScript and is remembered by the layer's digest: a warm build whose
 * node_modules came from the cache reads only its app layer.
 */
export type NodeType = 'f' | 'd' | 'l';

export interface TreeNode {
  type: NodeType;
  /** A symlink's target. */
  target?: string;
}

/** The package.json fields Node's resolution reads. */
export interface Manifest {
  name?: string;
  main?: string;
  type?: string;
  exports?: unknown;
}

export interface TreeIndex {
  /** Path (no leading slash) to node; later layers over earlier ones. */
  nodes: Map<string, TreeNode>;
  /** package.json paths to their fields. */
  manifests: Map<string, Manifest>;
  /** Text of JavaScript files outside node_modules, by path. */
  sources: Map<string, string>;
  /** Files too big to keep (path to size), which are not parsed. */
  skipped: Map<string, number>;
}

/** The index of a node_modules layer, remembered by its digest. */
export interface StoredIndex {
  nodes: [string, NodeType, string?][];
  manifests: [string, Manifest][];
}

declare module '../../store/records.js' {
  interface RecordValues {
    'node-modules-index': StoredIndex;
  }
}

/** A file the smoke check parses is at most this big (a bundled server is a few MiB). */
export const MAX_SOURCE_BYTES = 8 << 20;
/** All sources kept of one layer, at most. */
const MAX_SOURCES_TOTAL = 48 << 20;
/** JavaScript by its name, or a file without an extension (`bin/www`), which may be a script. */
const JS = /\.(c|m)?js$|(^|\/)[^./]+$/;

export function emptyIndex(): TreeIndex {
  return { nodes: new Map(), manifests: new Map(), sources: new Map(), skipped: new Map() };
}

const normalize = (name: string) => name.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '');
const inNodeModules = (path: string) => path.includes('node_modules/') || path.startsWith('node_modules');

function manifestOf(text: string): Manifest | undefined {
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    if (typeof v !== 'object' || v === null) return undefined;
    const m: Manifest = {};
    if (typeof v.name === 'string') m.name = v.name;
    if (typeof v.main === 'string') m.main = v.main;
    if (typeof v.type === 'string') m.type = v.type;
    if (v.exports !== undefined) m.exports = v.exports;
    return m;
  } catch {
    return undefined;
  }
}

async function readBody(body: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads one layer into `index`: paths, manifests, and (with `sources`) the app's JavaScript. */
export async function indexLayer(layer: Layer, index: TreeIndex, opts: { sources: boolean }): Promise<void> {
  let kept = 0;
  const hard: [string, string][] = [];
  for await (const entry of readLayer(await layer.open())) {
    const h = entry.header;
    const path = normalize(h.name);
    if (path === '') continue;
    if (h.type === 'directory') index.nodes.set(path, { type: 'd' });
    else if (h.type === 'symlink') index.nodes.set(path, { type: 'l', target: h.linkname ?? '' });
    else if (h.type === 'link') {
      index.nodes.set(path, { type: 'f' });
      hard.push([path, normalize(h.linkname ?? '')]);
    } else if (h.type === 'file' || h.type === 'contiguous-file') {
      index.nodes.set(path, { type: 'f' });
      const manifest = path.endsWith('/package.json') || path === 'package.json';
      const source = opts.sources && JS.test(path) && !inNodeModules(path);
      if (!manifest && !source) continue;
      // A file without an extension is kept only when small enough to be a script.
      if (source && !/\.[^/]+$/.test(path) && h.size > 1 << 20) continue;
      if (h.size > MAX_SOURCE_BYTES || (source && kept + h.size > MAX_SOURCES_TOTAL)) {
        index.skipped.set(path, h.size);
        continue;
      }
      const text = await readBody(entry.body);
      if (manifest) {
        const m = manifestOf(text);
        if (m) index.manifests.set(path, m);
      } else {
        index.sources.set(path, text);
        kept += h.size;
      }
    }
  }
  for (const [path, target] of hard) {
    const text = index.sources.get(target);
    if (text !== undefined) index.sources.set(path, text);
    const m = index.manifests.get(target);
    if (m) index.manifests.set(path, m);
  }
}

/** The index of a node_modules layer: remembered by digest, read from the blob on a miss. */
export async function nodeModulesIndex(store: Store, layer: Layer, index: TreeIndex): Promise<void> {
  const records = store.record('node-modules-index');
  const key = { layer: layer.descriptor.digest };
  let stored = await records.get(key);
  if (!stored) {
    const own = emptyIndex();
    await indexLayer(layer, own, { sources: false });
    stored = {
      nodes: [...own.nodes].map(([p, n]) => (n.target !== undefined ? [p, n.type, n.target] : [p, n.type])),
      manifests: [...own.manifests],
    };
    await records.put(key, stored);
  }
  for (const [p, type, target] of stored.nodes)
    index.nodes.set(p, target !== undefined ? { type, target } : { type });
  for (const [p, m] of stored.manifests) index.manifests.set(p, m);
}
