/**
 * The merged filesystem of an image, as a container sees it (merge.ts applies the layers): an
 * in-memory tree of metadata (type, size, mode, owner, link target, the layer that wrote it), never
 * file contents, kept in the compact storage of nodes.ts and read through views made when asked
 * for. A harvester may attach what it found in a file to its node (`probe`).
 */
import { F_FIRST, F_LAYER, NONE, Nodes, ROOT, T_DIR } from './nodes.js';
import type { UnsafeEntry } from './unsafe.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'other';

/** Node types by their number in the storage (T_FILE...). */
export const TYPES: readonly NodeType[] = ['file', 'dir', 'symlink', 'other'];

/**
 * A node of the merged tree as facts and listings read it: a view of the tree's compact storage
 * (see Nodes), made when asked for. It shows the tree as it is when read.
 */
export interface TreeNode {
  readonly type: NodeType;
  /** Permission bits with setuid, setgid and sticky (0..0o7777). */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Bytes of a regular file (of its target for a hardlink); 0 otherwise. */
  readonly size: number;
  /** Index of the layer that last wrote this entry. */
  readonly layer: number;
  /** Last layer that wrote this entry or anything below it (whiteout bookkeeping). */
  readonly touched: number;
  /** A symlink's target, verbatim. */
  readonly linkTarget?: string | undefined;
  /** For an entry made by a hardlink: the image path (`/usr/bin/x`) it was linked to. */
  readonly hardlinkTo?: string | undefined;
  /** A directory's entries by name, in the order they were added (a copy, made when asked for). */
  readonly children?: Map<string, TreeNode> | undefined;
  /** What a harvester found in the file's content while its layer streamed by. */
  readonly probe?: unknown;
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
  /**
   * Bytes of the compressed blob (of the tarball for a root filesystem given as a gzip or zstd
   * tarball); null when the blob is an uncompressed tar (docker-daemon: images, uncompressed OCI
   * layers, a plain tarball, a directory): its compressed size is not known.
   */
  compressed: number | null;
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
export const MAX_STEPS = 8192;

/**
 * Byte order of the UTF-8 encodings. UTF-16 code unit order agrees with it except where a
 * surrogate meets another character at the first difference; those few go through Buffers (as
 * every comparison once did, a quarter of the time of walking the tree).
 */
function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if ((x >= 0xd800 && x <= 0xdfff) || (y >= 0xd800 && y <= 0xdfff)) {
      return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** Child ids in byte order of their names. */
function sortedChildren(n: Nodes, dir: number): number[] {
  return n.children(dir).sort((a, b) => compareNames(n.name(a), n.name(b)));
}

export class NodeView implements TreeNode {
  constructor(
    protected readonly n: Nodes,
    protected id: number,
  ) {}
  get type(): NodeType {
    return TYPES[this.n.type(this.id)]!;
  }
  get mode(): number {
    return this.n.mode(this.id);
  }
  get uid(): number {
    return this.n.uid(this.id);
  }
  get gid(): number {
    return this.n.gid(this.id);
  }
  get size(): number {
    return this.n.size(this.id);
  }
  get layer(): number {
    return this.n.get(this.id, F_LAYER);
  }
  get touched(): number {
    return this.n.touched(this.id);
  }
  get linkTarget(): string | undefined {
    return this.n.linkTarget.get(this.id);
  }
  get hardlinkTo(): string | undefined {
    return this.n.hardlinkTo.get(this.id);
  }
  get probe(): unknown {
    return this.n.probe.get(this.id);
  }
  get children(): Map<string, TreeNode> | undefined {
    if (this.n.type(this.id) !== T_DIR) return undefined;
    return new Map(this.n.children(this.id).map((c) => [this.n.name(c), new NodeView(this.n, c)]));
  }
}

export class Tree {
  /** The nodes, for the Merger (and resolvePath) of this module. */
  readonly nodes = new Nodes();
  /** Nodes in the tree, the root excluded. */
  size = 0;
  wastedBytes = 0;
  readonly layers: LayerStats[] = [];
  readonly warnings: string[] = [];
  /** Entries extractors mishandle (unsafe.ts), in the order met: at most MAX_UNSAFE... */
  readonly unsafePaths: UnsafeEntry[] = [];
  /** ...and how many more there were. */
  unsafeOmitted = 0;

  get root(): TreeNode {
    return new NodeView(this.nodes, ROOT);
  }

  /** The node at a path, symlinks not followed (`/etc/passwd`, `etc/passwd`). */
  lookup(path: string): TreeNode | undefined {
    let id = ROOT;
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue;
      id = this.nodes.child(id, part);
      if (id === NONE) return undefined;
    }
    return new NodeView(this.nodes, id);
  }

  /** Every node but the root, depth first, children in byte order of their names. */
  *walk(): Generator<[path: string, node: TreeNode]> {
    const walk = new Walk(this.nodes);
    for (let id = walk.next(); id !== NONE; id = walk.next()) yield [walk.path, new NodeView(this.nodes, id)];
  }

  /**
   * Every node but the root in the order of walk(), through one view that moves from node to
   * node (valid during the call only): nothing is made per node, and a path only when read. For
   * passes over every node, such as facts': walk() made a path, a view and a pair for each of
   * 950,000 nodes, all garbage, while the whole tree was held.
   */
  scan(visit: (node: ScanNode) => void): void {
    const view = new ScanView(this.nodes, new Walk(this.nodes));
    while (view.next()) visit(view);
  }

  /** The listing of `distill inspect --files`: every path, sorted. */
  *files(): Generator<FileRow> {
    const n = this.nodes;
    const walk = new Walk(n);
    for (let id = walk.next(); id !== NONE; id = walk.next()) {
      const row: FileRow = {
        path: walk.path,
        type: TYPES[n.type(id)]!,
        size: n.size(id),
        mode: n.mode(id),
        uid: n.uid(id),
        gid: n.gid(id),
        layer: n.get(id, F_LAYER),
      };
      const target = n.linkTarget.get(id);
      if (target !== undefined) row.linkTarget = target;
      const hl = n.hardlinkTo.get(id);
      if (hl !== undefined) row.hardlinkTo = hl;
      yield row;
    }
  }
}

/** A node of Tree.scan(): the view of one node after another. */
export interface ScanNode extends TreeNode {
  /** Absolute path (`/usr/bin/node`), made when read. */
  readonly path: string;
  /** Components in the path: 1 for `/etc`. */
  readonly depth: number;
  /** The path's first component (`usr` for `/usr/bin/node`). */
  readonly top: string;
}

class ScanView extends NodeView implements ScanNode {
  constructor(
    n: Nodes,
    private readonly walk: Walk,
  ) {
    super(n, NONE);
  }
  next(): boolean {
    this.id = this.walk.next();
    return this.id !== NONE;
  }
  get path(): string {
    return this.walk.path;
  }
  get depth(): number {
    return this.walk.depth;
  }
  get top(): string {
    return this.n.name(this.walk.top);
  }
}

/**
 * A depth-first walk, children in byte order of their names: one frame per open directory, its
 * children sorted, a node's path made only when asked for. (Pushing the paths of all the children
 * of a directory at once kept them alive across collections and made V8 grow the young
 * generation by 16 MB on a tree of 950,000 paths.) A directory's children are listed when it is
 * left for them, after the caller has seen it.
 */
class Walk {
  private readonly frames: { path: string; kids: number[]; next: number }[] = [];
  private last = NONE;

  constructor(private readonly n: Nodes) {
    this.frames.push({ path: '', kids: sortedChildren(n, ROOT), next: 0 });
  }

  /** The path of the node next() gave last. */
  get path(): string {
    return `${this.frames[this.frames.length - 1]!.path}/${this.n.name(this.last)}`;
  }

  /** The depth of the node next() gave last (1 for a child of the root). */
  get depth(): number {
    return this.frames.length;
  }

  /** The ancestor of the node next() gave last that is a child of the root (or that node). */
  get top(): number {
    const root = this.frames[0]!;
    return root.kids[root.next - 1]!;
  }

  next(): number {
    const n = this.n;
    if (this.last !== NONE && n.type(this.last) === T_DIR && n.get(this.last, F_FIRST) !== NONE) {
      this.frames.push({ path: this.path, kids: sortedChildren(n, this.last), next: 0 });
    }
    for (;;) {
      const top = this.frames[this.frames.length - 1];
      if (top === undefined) {
        this.last = NONE;
        return NONE;
      }
      if (top.next === top.kids.length) {
        this.frames.pop();
        continue;
      }
      const id = top.kids[top.next++]!;
      this.last = id;
      return id;
    }
  }
}
