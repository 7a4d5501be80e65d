/**
 * The merged filesystem of an image, as a container sees it: layers applied in order onto an
 * in-memory tree of metadata (type, size, mode, owner, link target, the layer that wrote it),
 * never file contents. A harvester may read a few files while their layer streams by and attach
 * what it found to the node (`probe`); a later layer replacing or deleting the file drops it
 * with the node, so facts never come from a file the container cannot see.
 *
 * Semantics follow containerd's applier (archive/tar.go) and the OCI layer spec:
 * - entry paths are normalized: `/etc/x`, `./etc/x` and `etc//x` are `etc/x`; a `..` that stays
 *   inside the root is applied lexically; one that escapes it skips the entry with a warning
 *   (not an error: inspecting a hostile image should report on it, and the warning says so);
 * - parent directories are resolved through symlinks inside the image (`lib/x` lands in
 *   `usr/lib/x` when `lib -> usr/lib`), with missing ones created (0755, root); the last
 *   component is never followed: an entry replaces what is there, except a directory over a
 *   directory, which keeps its children and takes the new metadata;
 * - a parent that a lower layer wrote as a file or other non-directory is replaced by a
 *   directory (with a warning); one written by the same layer skips the entry (a contradictory tar);
 * - whiteouts (`.wh.NAME`) and opaque markers (`DIR/.wh..wh..opq`) hide what lower layers wrote,
 *   never what their own layer wrote, whatever the order of the entries in the tar;
 *   `.wh..wh.*` names other than the opaque marker are aufs metadata and ignored;
 * - a hardlink copies the metadata (and probe) of its target as the tree holds it then (from the
 *   same layer or an earlier one); a missing target or a directory skips it with a warning;
 * - symlinks are resolved inside the image (an absolute target starts again at the image root,
 *   `..` at the root stays there) with a limit of 40 hops, as Linux's.
 *
 * Wasted bytes: the sizes of regular files that were replaced or deleted after being written
 * (hardlinks carry no bytes of their own and are not counted).
 */
import type { Readable } from 'node:stream';
import { DistillError } from '../errors.js';
import type { TarEntryType } from '../layers/read.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'other';

export interface TreeNode {
  type: NodeType;
  /** Permission bits with setuid, setgid and sticky (0..0o7777). */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of a regular file (of its target for a hardlink); 0 otherwise. */
  size: number;
  /** Index of the layer that last wrote this entry. */
  layer: number;
  /** Last layer that wrote this entry or anything below it (whiteout bookkeeping). */
  touched: number;
  /** A symlink's target, verbatim. */
  linkTarget?: string;
  /** For an entry made by a hardlink: the image path (`/usr/bin/x`) it was linked to. */
  hardlinkTo?: string;
  children?: Map<string, TreeNode>;
  /** What a harvester found in the file's content while its layer streamed by. */
  probe?: unknown;
}

/** One row of a file listing. */
export interface FileRow {
  /** Absolute image path, `/usr/bin/node`. */
  path: string;
  type: NodeType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  layer: number;
  linkTarget?: string;
  hardlinkTo?: string;
}

/** Per-layer numbers gathered while merging. */
export interface LayerStats {
  /** Bytes of the blob as stored (the tarball's size for a root filesystem given as a tarball). */
  compressed: number;
  /** Bytes of the tar after decompression (for a directory: the sum of its file sizes). */
  uncompressed: number;
  /** Tar entries read. */
  entries: number;
}

export const MAX_SYMLINK_HOPS = 40;
/** Longest entry path or link target accepted (Linux's PATH_MAX). */
export const MAX_PATH_LENGTH = 4096;
/** Deepest directory nesting accepted (keeps every walk of the tree shallow enough). */
export const MAX_DEPTH = 1024;
/**
 * Most path components one resolution may step through, symlink targets included: 40 links of
 * 4096 characters each could otherwise make every entry of a hostile layer cost ~100k steps.
 */
const MAX_STEPS = 8192;

export class Tree {
  readonly root: TreeNode = newDir(-1);
  /** Nodes in the tree, the root excluded. */
  size = 0;
  wastedBytes = 0;
  readonly layers: LayerStats[] = [];
  readonly warnings: string[] = [];

  /** The node at a path, symlinks not followed (`/etc/passwd`, `etc/passwd`). */
  lookup(path: string): TreeNode | undefined {
    let node: TreeNode | undefined = this.root;
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue;
      node = node?.children?.get(part);
      if (!node) return undefined;
    }
    return node;
  }

  /** Every node but the root, depth first, children in byte order of their names. */
  *walk(): Generator<[path: string, node: TreeNode]> {
    const stack: [string, TreeNode][] = [['', this.root]];
    while (stack.length > 0) {
      const [path, node] = stack.pop()!;
      if (node !== this.root) yield [path, node];
      if (!node.children) continue;
      const names = [...node.children.keys()].sort(compareNames).reverse();
      for (const name of names) stack.push([`${path}/${name}`, node.children.get(name)!]);
    }
  }

  /** The listing of `distill inspect --files`: every path, sorted. */
  *files(): Generator<FileRow> {
    for (const [path, n] of this.walk()) {
      const row: FileRow = {
        path,
        type: n.type,
        size: n.size,
        mode: n.mode,
        uid: n.uid,
        gid: n.gid,
        layer: n.layer,
      };
      if (n.linkTarget !== undefined) row.linkTarget = n.linkTarget;
      if (n.hardlinkTo !== undefined) row.hardlinkTo = n.hardlinkTo;
      yield row;
    }
  }
}

function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function newDir(layer: number): TreeNode {
  return { type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, layer, touched: layer, children: new Map() };
}

export type Resolution =
  | { ok: true /** canonical absolute path */; path: string; node: TreeNode }
  | { ok: false; reason: 'missing' | 'loop' | 'not-a-directory'; path: string };

/**
 * Resolves an image path through symlinks inside the image, as the kernel would in a container
 * whose root is the image: absolute targets restart at the root, `..` at the root stays there,
 * at most `maxHops` symlinks (40). `followLast: false` leaves a final symlink unresolved (lstat).
 * A loop or a chain longer than the limit is `loop`: the caller reports the fact as unknown.
 */
export function resolvePath(
  tree: Tree,
  path: string,
  opts: { followLast?: boolean; maxHops?: number } = {},
): Resolution {
  const followLast = opts.followLast ?? true;
  const maxHops = opts.maxHops ?? MAX_SYMLINK_HOPS;
  const todo = path.split('/').reverse();
  const names: string[] = [];
  const chain: TreeNode[] = [tree.root];
  let hops = 0;
  let steps = 0;
  while (todo.length > 0) {
    if (++steps > MAX_STEPS) return { ok: false, reason: 'loop', path };
    const c = todo.pop()!;
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (names.length > 0) {
        names.pop();
        chain.pop();
      }
      continue;
    }
    const dir = chain[chain.length - 1]!;
    if (dir.type !== 'dir') return { ok: false, reason: 'not-a-directory', path: `/${names.join('/')}` };
    const child = dir.children?.get(c);
    if (!child) return { ok: false, reason: 'missing', path: `/${[...names, c].join('/')}` };
    if (child.type === 'symlink' && (followLast || todo.some((t) => t !== '' && t !== '.'))) {
      if (++hops > maxHops) return { ok: false, reason: 'loop', path };
      const target = child.linkTarget ?? '';
      if (target.startsWith('/')) {
        names.length = 0;
        chain.length = 1;
      }
      const parts = target.split('/');
      for (let i = parts.length - 1; i >= 0; i--) todo.push(parts[i]!);
      continue;
    }
    names.push(c);
    chain.push(child);
  }
  return { ok: true, path: `/${names.join('/')}`, node: chain[chain.length - 1]! };
}

/** An entry of a layer or of a root filesystem, as the merge reads it. */
export interface InputEntry {
  /** As stored in the tar: not normalized. */
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string | null;
  /** The entry's content (read it before the next entry comes, or it is skipped). */
  open(): Readable;
}

/**
 * Reads some of a file's content while its layer streams by; called for every regular file
 * (not hardlinks) with its canonical path relative to the root (`etc/os-release`). Returns
 * undefined when not interested, else what to attach to the node.
 */
export type Harvester = (path: string, entry: InputEntry, node: TreeNode) => Promise<unknown> | undefined;

export interface MergeOptions {
  harvest?: Harvester;
  /** Called for every node a layer replaces or deletes (children included), before it goes. */
  onRemove?: (path: string, node: TreeNode, byLayer: number) => void;
  /** Most nodes the tree may hold (default 1,000,000): beyond, INSPECT_UNSAFE. */
  maxEntries?: number;
  /** Most warnings kept (default 200); the rest are counted in a last one. */
  maxWarnings?: number;
}

export const DEFAULT_MAX_ENTRIES = 1_000_000;
const DEFAULT_MAX_WARNINGS = 200;

function show(s: string): string {
  const text = JSON.stringify(s);
  return text.length > 120 ? `${text.slice(0, 117)}..."` : text;
}

/**
 * A copy of a name that does not keep the whole entry path alive: V8 makes substrings of 13
 * characters or more point into their parent string, and a tree key lives as long as the tree.
 */
function own(name: string): string {
  return name.length < 13 ? name : (JSON.parse(JSON.stringify(name)) as string);
}

/** Lexical normalization of an entry name; `null` when a `..` escapes the root. */
function normalizeName(name: string): string[] | null {
  const parts: string[] = [];
  for (const p of name.split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') {
      if (parts.length === 0) return null;
      parts.pop();
      continue;
    }
    parts.push(p);
  }
  return parts;
}

/** Applies layers one after another onto a tree. */
export class Merger {
  readonly tree = new Tree();
  private readonly opts: MergeOptions;
  private readonly maxEntries: number;
  private readonly maxWarnings: number;
  private droppedWarnings = 0;
  private layer = 0;
  private label = '';

  constructor(opts: MergeOptions = {}) {
    this.opts = opts;
    this.maxEntries = opts.maxEntries ?? DEFAULT_MAX_ENTRIES;
    this.maxWarnings = opts.maxWarnings ?? DEFAULT_MAX_WARNINGS;
  }

  warn(message: string): void {
    if (this.tree.warnings.length < this.maxWarnings) this.tree.warnings.push(message);
    else this.droppedWarnings++;
  }

  /** Ends the merge: the tree, with a last warning counting those left out. */
  finish(): Tree {
    if (this.droppedWarnings > 0) {
      this.tree.warnings.push(`${this.droppedWarnings} more warnings were left out`);
      this.droppedWarnings = 0;
    }
    return this.tree;
  }

  /**
   * Applies the entries of the next layer. `label` names it in warnings and errors
   * (`layer 2 (sha256:…)`). Returns the number of entries read.
   */
  async applyLayer(label: string, entries: AsyncIterable<InputEntry>): Promise<number> {
    this.layer = this.tree.layers.length;
    this.label = label;
    let n = 0;
    for await (const e of entries) {
      n++;
      await this.entry(e);
    }
    return n;
  }

  private where(e: InputEntry): string {
    return `${this.label} entry ${show(e.name)}`;
  }

  private async entry(e: InputEntry): Promise<void> {
    if (e.name.length > MAX_PATH_LENGTH || (e.linkname?.length ?? 0) > MAX_PATH_LENGTH) {
      this.warn(`${this.where(e)} has a path or link longer than ${MAX_PATH_LENGTH} characters; skipped`);
      return;
    }
    const parts = normalizeName(e.name);
    if (parts === null) {
      this.warn(`${this.where(e)} escapes the image root with ".."; skipped`);
      return;
    }
    const base = parts[parts.length - 1];
    if (base === undefined) {
      // `./` or `/`: the root directory's own metadata.
      if (e.type === 'directory') this.setMeta(this.tree.root, e);
      return;
    }
    if (base.startsWith('.wh.')) {
      this.whiteout(parts, e);
      return;
    }
    const parent = this.ensureDir(parts.slice(0, -1), e);
    if (!parent) return;
    const dir = parent.chain[parent.chain.length - 1]!;
    const children = dir.children!;
    const path = [...parent.names, base].join('/');
    const existing = children.get(base);
    const N = this.layer;

    let node: TreeNode;
    switch (e.type) {
      case 'directory':
        if (existing?.type === 'dir') {
          this.setMeta(existing, e);
          existing.layer = N;
          existing.touched = N;
          for (const d of parent.chain) d.touched = N;
          return;
        }
        node = newDir(N);
        this.setMeta(node, e);
        break;
      case 'file':
      case 'contiguous-file':
        node = this.leaf('file', e);
        node.size = e.size;
        break;
      case 'symlink':
        if (!e.linkname) {
          this.warn(`${this.where(e)} is a symlink without a target; skipped`);
          return;
        }
        node = this.leaf('symlink', e);
        node.mode = 0o777;
        node.linkTarget = e.linkname;
        break;
      case 'link': {
        const linked = this.hardlinkTarget(e);
        if (!linked || linked.node === existing) return;
        node = { ...linked.node, layer: N, touched: N, hardlinkTo: linked.path };
        break;
      }
      default:
        node = this.leaf('other', e);
    }
    if (existing) this.remove(existing, path);
    this.count();
    children.set(existing ? base : own(base), node);
    for (const d of parent.chain) d.touched = N;
    if (node.type === 'file' && e.type !== 'link' && this.opts.harvest) {
      const p = this.opts.harvest(path, e, node);
      if (p) {
        const probe = await p;
        if (probe !== undefined) node.probe = probe;
      }
    }
  }

  /** Counts one more node, failing past the limit. */
  private count(): void {
    if (this.tree.size >= this.maxEntries) {
      throw new DistillError(
        'INSPECT_UNSAFE',
        `${this.label} takes the merged filesystem past ${this.maxEntries} entries; raise the maxEntries limit if the image is trusted`,
      );
    }
    this.tree.size++;
  }

  private leaf(type: NodeType, e: InputEntry): TreeNode {
    const node: TreeNode = { type, mode: 0, uid: 0, gid: 0, size: 0, layer: this.layer, touched: this.layer };
    this.setMeta(node, e);
    return node;
  }

  private setMeta(node: TreeNode, e: InputEntry): void {
    node.mode = e.mode & 0o7777;
    node.uid = e.uid;
    node.gid = e.gid;
  }

  /** Removes a node and everything below it, counting wasted bytes. The caller unlinks it. */
  private remove(node: TreeNode, path: string): void {
    if (node.type === 'file' && node.hardlinkTo === undefined) this.tree.wastedBytes += node.size;
    this.opts.onRemove?.(`/${path}`, node, this.layer);
    this.tree.size--;
    if (node.children) for (const [name, child] of node.children) this.remove(child, `${path}/${name}`);
  }

  /** Removes everything below a directory that lower layers wrote, keeping this layer's entries. */
  private purgeLower(dir: TreeNode, path: string): void {
    for (const [name, child] of [...dir.children!]) {
      const p = path === '' ? name : `${path}/${name}`;
      if (child.touched < this.layer) {
        this.remove(child, p);
        dir.children!.delete(name);
      } else if (child.type === 'dir') {
        this.purgeLower(child, p);
        if (child.layer < this.layer) this.implicitDir(child);
      }
    }
  }

  /** A lower directory that this layer deleted and wrote into again: a fresh implied directory. */
  private implicitDir(node: TreeNode): void {
    node.mode = 0o755;
    node.uid = 0;
    node.gid = 0;
    node.layer = this.layer;
  }

  private whiteout(parts: string[], e: InputEntry): void {
    const base = parts[parts.length - 1]!;
    const parentPath = parts.slice(0, -1).join('/');
    const parent = resolvePath(this.tree, parentPath);
    // Nothing is below a directory that does not exist (or is not a directory): nothing to hide.
    if (!parent.ok || parent.node.type !== 'dir') return;
    const dirPath = parent.path.slice(1);
    if (base === '.wh..wh..opq') {
      this.purgeLower(parent.node, dirPath);
      return;
    }
    if (base.startsWith('.wh..wh.')) return; // aufs metadata (.wh..wh.plnk, .wh..wh.aufs)
    const name = base.slice(4);
    if (name === '' || name === '.' || name === '..') {
      this.warn(`${this.where(e)} is a whiteout for no file name; skipped`);
      return;
    }
    const node = parent.node.children!.get(name);
    if (!node) return;
    const path = dirPath === '' ? name : `${dirPath}/${name}`;
    if (node.touched < this.layer) {
      this.remove(node, path);
      parent.node.children!.delete(name);
    } else if (node.type === 'dir' && node.layer < this.layer) {
      // This layer also wrote below it: the lower directory goes, this layer's entries stay.
      this.purgeLower(node, path);
      this.implicitDir(node);
    } else if (node.type === 'dir') {
      this.purgeLower(node, path);
    }
  }

  /**
   * The directory an entry goes into: components resolved through symlinks inside the image,
   * missing directories created. Undefined (with a warning) when that cannot be done.
   */
  private ensureDir(parts: string[], e: InputEntry): { chain: TreeNode[]; names: string[] } | undefined {
    const todo = [...parts].reverse();
    const names: string[] = [];
    const chain: TreeNode[] = [this.tree.root];
    let hops = 0;
    let steps = 0;
    while (todo.length > 0) {
      if (++steps > MAX_STEPS) {
        this.warn(
          `${this.where(e)} has a parent path that takes more than ${MAX_STEPS} steps to resolve; skipped`,
        );
        return undefined;
      }
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        if (names.length > 0) {
          names.pop();
          chain.pop();
        }
        continue;
      }
      const dir = chain[chain.length - 1]!;
      let child = dir.children!.get(c);
      if (child?.type === 'symlink') {
        if (++hops > MAX_SYMLINK_HOPS) {
          this.warn(`${this.where(e)} has a parent directory behind a symlink loop; skipped`);
          return undefined;
        }
        const target = child.linkTarget ?? '';
        if (target.startsWith('/')) {
          names.length = 0;
          chain.length = 1;
        }
        const tparts = target.split('/');
        for (let i = tparts.length - 1; i >= 0; i--) todo.push(tparts[i]!);
        continue;
      }
      const path = [...names, c].join('/');
      if (child && child.type !== 'dir') {
        if (child.layer === this.layer) {
          this.warn(
            `${this.where(e)} is inside /${path}, which the same layer wrote as a ${child.type}; skipped`,
          );
          return undefined;
        }
        this.warn(`${this.where(e)} turns /${path}, a ${child.type} of a lower layer, into a directory`);
        this.remove(child, path);
        child = undefined;
      }
      if (names.length >= MAX_DEPTH) {
        this.warn(`${this.where(e)} is nested deeper than ${MAX_DEPTH} directories; skipped`);
        return undefined;
      }
      if (!child) {
        this.count();
        child = newDir(this.layer);
        dir.children!.set(own(c), child);
      }
      names.push(c);
      chain.push(child);
    }
    return { chain, names };
  }

  private hardlinkTarget(e: InputEntry): { node: TreeNode; path: string } | undefined {
    const parts = e.linkname ? normalizeName(e.linkname) : null;
    if (!parts || parts.length === 0) {
      this.warn(
        `${this.where(e)} is a hardlink to ${show(e.linkname ?? '')}, outside the image root; skipped`,
      );
      return undefined;
    }
    const r = resolvePath(this.tree, parts.join('/'), { followLast: false });
    if (!r.ok || r.node.type === 'dir') {
      this.warn(
        `${this.where(e)} is a hardlink to ${show(e.linkname ?? '')}, which is ${r.ok ? 'a directory' : 'not in the image'}; skipped`,
      );
      return undefined;
    }
    return { node: r.node, path: r.path };
  }
}
