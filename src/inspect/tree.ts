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
import type { TarHeader } from '../layers/read.js';

export type NodeType = 'file' | 'dir' | 'symlink' | 'other';

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

// ---- compact storage ----

const NONE = -1;
const ROOT = 0;
const T_FILE = 0;
const T_DIR = 1;
const T_SYMLINK = 2;
const T_OTHER = 3;
const TYPES: readonly NodeType[] = ['file', 'dir', 'symlink', 'other'];

/** Nodes per page: pages are never copied as the tree grows, so growing costs no transient garbage. */
const PAGE_BITS = 14;
const PAGE_MASK = (1 << PAGE_BITS) - 1;
/** Int32 fields of a node's record. */
const STRIDE = 8;
/** type (bits 0-1) | mode << 2; -1 once the node is freed. */
const F_META = 0;
/** uid << 16 | gid when both are below 65535, else ASIDE. */
const F_OWNER = 1;
const F_LAYER = 2;
/** Index into the interned names. */
const F_NAME = 3;
const F_PARENT = 4;
/** First child; the first child's F_PREV is the last child. */
const F_FIRST = 5;
/** Next sibling (next free node once freed). */
const F_NEXT = 6;
const F_PREV = 7;
/**
 * In F_OWNER or in the size of a file: the value does not fit (a uid of 100000 or a pax record's
 * 1e20 or 1.5, a file of 2 GiB or more) and is kept in a Map aside.
 */
const ASIDE = -1;
/** Most a uid or gid packed into F_OWNER may be (65535 would make the pair -1, ASIDE). */
const MAX_PACKED_ID = 0xfffe;

/**
 * The merged tree in typed arrays: one record of eight Int32 fields and an Int32 size per node
 * (36 bytes; a directory, whose size is 0, keeps there the last layer that touched it, which for
 * any other node is its own layer), names interned (a node_modules repeats `index.js`, `package.json`, `lib` thousands
 * of times), children found through one open-addressing table keyed by (parent, name) and listed
 * through sibling links. Rare fields (link targets, hardlink paths, probes) live in Maps keyed
 * by node id. The tree of objects it replaces (an object, a Map entry and a name string per path,
 * a Map per directory) took 171 bytes a path on the bench/inspect image (43,000 paths), and its
 * nodes, all surviving the young generation, made V8 grow that to 16 MB semi-spaces: peak RSS of
 * `distill inspect` went from 128 MB to 102 MB with this. Measured: 100 bytes a path on that
 * image (pages and index not yet full), 60 at a million paths with a 48-byte record (ten Int32
 * fields, a Float64 size), before uid and gid were packed into one field and touched moved into
 * a directory's size.
 */
class Nodes {
  private readonly ints: Int32Array[] = [];
  /** A file's size (ASIDE: in bigSizes), a directory's touched layer; see size() and touched(). */
  private readonly sizes: Int32Array[] = [];
  /** Ids below this have been handed out. */
  private high = 0;
  private freeList = NONE;
  /** Nodes in use. */
  live = 0;
  private readonly owners = new Map<number, { uid: number; gid: number }>();
  private readonly bigSizes = new Map<number, number>();
  readonly linkTarget = new Map<number, string>();
  readonly hardlinkTo = new Map<number, string>();
  readonly probe = new Map<number, unknown>();
  private names: string[] = [];
  private nameIds = new Map<string, number>();
  private slots = new Int32Array(1 << 12).fill(NONE);
  private used = 0;

  constructor() {
    const name = this.intern('');
    const root = this.alloc();
    this.init(root, T_DIR, 0o755, -1, name, NONE);
  }

  get(id: number, f: number): number {
    return this.ints[id >>> PAGE_BITS]![(id & PAGE_MASK) * STRIDE + f]!;
  }

  set(id: number, f: number, v: number): void {
    this.ints[id >>> PAGE_BITS]![(id & PAGE_MASK) * STRIDE + f] = v;
  }

  type(id: number): number {
    return this.get(id, F_META) & 3;
  }

  mode(id: number): number {
    return this.get(id, F_META) >>> 2;
  }

  setType(id: number, type: number, mode: number): void {
    this.set(id, F_META, type | (mode << 2));
  }

  uid(id: number): number {
    const v = this.get(id, F_OWNER);
    return v === ASIDE ? this.owners.get(id)!.uid : v >>> 16;
  }

  gid(id: number): number {
    const v = this.get(id, F_OWNER);
    return v === ASIDE ? this.owners.get(id)!.gid : v & 0xffff;
  }

  setOwners(id: number, uid: number, gid: number): void {
    if (small(uid, MAX_PACKED_ID) && small(gid, MAX_PACKED_ID)) {
      if (this.get(id, F_OWNER) === ASIDE) this.owners.delete(id);
      this.set(id, F_OWNER, (uid << 16) | gid);
    } else {
      this.set(id, F_OWNER, ASIDE);
      this.owners.set(id, { uid, gid });
    }
  }

  /** Bytes of a regular file (or of anything but a directory); 0 for a directory. */
  size(id: number): number {
    if (this.type(id) === T_DIR) return 0;
    const v = this.sizes[id >>> PAGE_BITS]![id & PAGE_MASK]!;
    return v === ASIDE ? this.bigSizes.get(id)! : v;
  }

  /** Sets the size of a node that is not a directory. */
  setSize(id: number, v: number): void {
    const page = this.sizes[id >>> PAGE_BITS]!;
    const at = id & PAGE_MASK;
    if (page[at] === ASIDE) this.bigSizes.delete(id);
    if (small(v, 0x7fffffff)) page[at] = v;
    else {
      page[at] = ASIDE;
      this.bigSizes.set(id, v);
    }
  }

  /** The last layer that wrote this node or anything below it. */
  touched(id: number): number {
    return this.type(id) === T_DIR ? this.sizes[id >>> PAGE_BITS]![id & PAGE_MASK]! : this.get(id, F_LAYER);
  }

  /** Sets the touched layer of a directory. */
  setTouched(id: number, layer: number): void {
    this.sizes[id >>> PAGE_BITS]![id & PAGE_MASK] = layer;
  }

  name(id: number): string {
    return this.names[this.get(id, F_NAME)]!;
  }

  private alloc(): number {
    let id = this.freeList;
    if (id !== NONE) this.freeList = this.get(id, F_NEXT);
    else {
      id = this.high++;
      if (id >>> PAGE_BITS >= this.ints.length) {
        this.ints.push(new Int32Array((PAGE_MASK + 1) * STRIDE));
        this.sizes.push(new Int32Array(PAGE_MASK + 1));
      }
    }
    this.live++;
    return id;
  }

  /** A freshly allocated record: owned by root, size 0 (touched `layer` for a directory). */
  private init(id: number, type: number, mode: number, layer: number, name: number, parent: number): void {
    this.setType(id, type, mode);
    this.set(id, F_OWNER, 0);
    this.set(id, F_LAYER, layer);
    this.set(id, F_NAME, name);
    this.set(id, F_PARENT, parent);
    this.set(id, F_FIRST, NONE);
    this.set(id, F_NEXT, NONE);
    this.set(id, F_PREV, NONE);
    this.sizes[id >>> PAGE_BITS]![id & PAGE_MASK] = type === T_DIR ? layer : 0;
  }

  /** A new node, not yet linked into its directory (see link). */
  create(type: number, mode: number, layer: number, parent: number, name: string): number {
    const nameId = this.intern(name);
    const id = this.alloc();
    this.init(id, type, mode, layer, nameId, parent);
    return id;
  }

  /** A copy of a node's metadata, link target and probe (a hardlink), not yet linked. */
  copy(from: number, layer: number, parent: number, name: string): number {
    const id = this.create(this.type(from), this.mode(from), layer, parent, name);
    this.setOwners(id, this.uid(from), this.gid(from));
    if (this.type(from) !== T_DIR) this.setSize(id, this.size(from));
    const target = this.linkTarget.get(from);
    if (target !== undefined) this.linkTarget.set(id, target);
    const hl = this.hardlinkTo.get(from);
    if (hl !== undefined) this.hardlinkTo.set(id, hl);
    if (this.probe.has(from)) this.probe.set(id, this.probe.get(from));
    return id;
  }

  // ---- names ----

  private intern(name: string): number {
    let id = this.nameIds.get(name);
    if (id === undefined) {
      if (this.names.length >= 2 * this.live + 65536) this.compactNames();
      id = this.names.length;
      this.names.push(own(name));
      this.nameIds.set(this.names[id]!, id);
    }
    return id;
  }

  private nameId(name: string): number {
    return this.nameIds.get(name) ?? NONE;
  }

  /**
   * Drops the names no node uses any more (a hostile image can write and delete names without
   * end); the table keeps at most about twice as many names as nodes.
   */
  private compactNames(): void {
    const names: string[] = [];
    const ids = new Map<string, number>();
    for (let id = 0; id < this.high; id++) {
      if (this.get(id, F_META) === -1) continue;
      const name = this.names[this.get(id, F_NAME)]!;
      let n = ids.get(name);
      if (n === undefined) {
        n = names.length;
        names.push(name);
        ids.set(name, n);
      }
      this.set(id, F_NAME, n);
    }
    this.names = names;
    this.nameIds = ids;
    this.rehash(this.slots.length);
  }

  // ---- children: the (parent, name) table and the sibling lists ----

  private home(parent: number, nameId: number): number {
    let h = Math.imul(parent, 0x9e3779b1) ^ Math.imul(nameId + 0x632be5ab, 0x85ebca77);
    h ^= h >>> 15;
    return h & (this.slots.length - 1);
  }

  /** The child of `dir` named `name`, or NONE. */
  child(dir: number, name: string): number {
    const nameId = this.nameId(name);
    if (nameId === NONE) return NONE;
    const mask = this.slots.length - 1;
    for (let s = this.home(dir, nameId); ; s = (s + 1) & mask) {
      const id = this.slots[s]!;
      if (id === NONE) return NONE;
      if (this.get(id, F_NAME) === nameId && this.get(id, F_PARENT) === dir) return id;
    }
  }

  private slotOf(id: number): number {
    const mask = this.slots.length - 1;
    for (let s = this.home(this.get(id, F_PARENT), this.get(id, F_NAME)); ; s = (s + 1) & mask) {
      const at = this.slots[s]!;
      if (at === id) return s;
      if (at === NONE)
        throw new DistillError('INTERNAL', 'a tree node is missing from its index', { userError: false });
    }
  }

  private place(id: number): void {
    const mask = this.slots.length - 1;
    let s = this.home(this.get(id, F_PARENT), this.get(id, F_NAME));
    while (this.slots[s] !== NONE) s = (s + 1) & mask;
    this.slots[s] = id;
  }

  /**
   * A new table of `size` slots with the same nodes, placed in the order of their ids: their
   * records are then read one after another, where the order of the old table read them all over
   * the pages (a quarter of a second over the doublings to 2^21 slots, in a CPU profile).
   */
  private rehash(size: number): void {
    const indexed = new Uint8Array(this.high);
    for (const id of this.slots) if (id !== NONE) indexed[id] = 1;
    this.slots = new Int32Array(size).fill(NONE);
    for (let id = 0; id < this.high; id++) if (indexed[id] === 1) this.place(id);
  }

  private unindex(id: number): void {
    const mask = this.slots.length - 1;
    let hole = this.slotOf(id);
    this.slots[hole] = NONE;
    // Backward-shift deletion (linear probing without tombstones).
    for (let j = (hole + 1) & mask; this.slots[j] !== NONE; j = (j + 1) & mask) {
      const k = this.slots[j]!;
      const h = this.home(this.get(k, F_PARENT), this.get(k, F_NAME));
      const stays = hole <= j ? hole < h && h <= j : hole < h || h <= j;
      if (!stays) {
        this.slots[hole] = k;
        this.slots[j] = NONE;
        hole = j;
      }
    }
    this.used--;
  }

  /** Links a new node (from create or copy) as the last child of its parent. */
  link(id: number): void {
    if ((this.used + 1) * 2 > this.slots.length) this.rehash(this.slots.length * 2);
    this.place(id);
    this.used++;
    const dir = this.get(id, F_PARENT);
    const first = this.get(dir, F_FIRST);
    if (first === NONE) {
      this.set(dir, F_FIRST, id);
      this.set(id, F_PREV, id);
    } else {
      const last = this.get(first, F_PREV);
      this.set(last, F_NEXT, id);
      this.set(id, F_PREV, last);
      this.set(first, F_PREV, id);
    }
    this.set(id, F_NEXT, NONE);
  }

  /** Puts a new node (same parent and name) in the place of an old one, and frees the old one. */
  replace(old: number, id: number): void {
    this.slots[this.slotOf(old)] = id;
    const dir = this.get(old, F_PARENT);
    const first = this.get(dir, F_FIRST);
    const next = this.get(old, F_NEXT);
    const prev = this.get(old, F_PREV);
    this.set(id, F_NEXT, next);
    if (old === first) {
      this.set(dir, F_FIRST, id);
      this.set(id, F_PREV, prev === old ? id : prev);
    } else {
      this.set(prev, F_NEXT, id);
      this.set(id, F_PREV, prev);
    }
    if (next !== NONE) this.set(next, F_PREV, id);
    else if (old !== first) this.set(this.get(dir, F_FIRST), F_PREV, id);
    this.free(old);
  }

  /** Takes a node out of its directory and frees it with everything below it. */
  unlink(id: number): void {
    this.unindex(id);
    const dir = this.get(id, F_PARENT);
    const first = this.get(dir, F_FIRST);
    const next = this.get(id, F_NEXT);
    const prev = this.get(id, F_PREV);
    if (id === first) {
      this.set(dir, F_FIRST, next);
      if (next !== NONE) this.set(next, F_PREV, prev);
    } else {
      this.set(prev, F_NEXT, next);
      if (next === NONE) this.set(first, F_PREV, prev);
      else this.set(next, F_PREV, prev);
    }
    this.free(id);
  }

  /** Frees a node already out of the index and its directory, and everything below it. */
  private free(top: number): void {
    const stack = [top];
    while (stack.length > 0) {
      const id = stack.pop()!;
      for (let c = this.get(id, F_FIRST); c !== NONE; c = this.get(c, F_NEXT)) {
        this.unindex(c);
        stack.push(c);
      }
      this.linkTarget.delete(id);
      this.hardlinkTo.delete(id);
      this.probe.delete(id);
      if (this.get(id, F_OWNER) === ASIDE) this.owners.delete(id);
      if (this.type(id) !== T_DIR && this.sizes[id >>> PAGE_BITS]![id & PAGE_MASK] === ASIDE) {
        this.bigSizes.delete(id);
      }
      this.set(id, F_META, -1);
      this.set(id, F_NEXT, this.freeList);
      this.freeList = id;
      this.live--;
    }
  }

  /** Child ids in the order they were added. */
  children(dir: number): number[] {
    const out: number[] = [];
    for (let c = this.get(dir, F_FIRST); c !== NONE; c = this.get(c, F_NEXT)) out.push(c);
    return out;
  }

  /** Child ids in byte order of their names. */
  sortedChildren(dir: number): number[] {
    return this.children(dir).sort((a, b) => compareNames(this.name(a), this.name(b)));
  }
}

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

class NodeView implements TreeNode {
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
    this.frames.push({ path: '', kids: n.sortedChildren(ROOT), next: 0 });
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
      this.frames.push({ path: this.path, kids: n.sortedChildren(this.last), next: 0 });
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

export type Resolution =
  | { ok: true /** canonical absolute path */; path: string; node: TreeNode }
  | { ok: false; reason: 'missing' | 'loop' | 'not-a-directory'; path: string };

type IdResolution =
  | { ok: true; path: string; id: number }
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
  const r = resolveId(tree.nodes, path, opts);
  return r.ok ? { ok: true, path: r.path, node: new NodeView(tree.nodes, r.id) } : r;
}

function resolveId(n: Nodes, path: string, opts: { followLast?: boolean; maxHops?: number }): IdResolution {
  const followLast = opts.followLast ?? true;
  const maxHops = opts.maxHops ?? MAX_SYMLINK_HOPS;
  const todo = path.split('/').reverse();
  const names: string[] = [];
  const chain: number[] = [ROOT];
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
    if (n.type(dir) !== T_DIR) return { ok: false, reason: 'not-a-directory', path: `/${names.join('/')}` };
    const child = n.child(dir, c);
    if (child === NONE) return { ok: false, reason: 'missing', path: `/${[...names, c].join('/')}` };
    if (n.type(child) === T_SYMLINK && (followLast || todo.some((t) => t !== '' && t !== '.'))) {
      if (++hops > maxHops) return { ok: false, reason: 'loop', path };
      const target = n.linkTarget.get(child) ?? '';
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
  return { ok: true, path: `/${names.join('/')}`, id: chain[chain.length - 1]! };
}

/** An entry of a layer or of a root filesystem, as the merge reads it. */
export interface InputEntry
  extends Pick<TarHeader, 'name' | 'type' | 'mode' | 'uid' | 'gid' | 'size' | 'linkname'> {
  /** The entry's content (read it before the next entry comes, or it is skipped). */
  open(): Readable;
  /**
   * Up to `max` bytes from the start of the content, and whether it reached `max` bytes (as
   * readCapped in content.ts tells it), without making a stream; absent where the input has no
   * cheaper way than open().
   */
  head?(max: number): Promise<{ bytes: Buffer; truncated: boolean }>;
  /**
   * What head(max) would give when the input already holds it in memory: a view (read it there
   * and then, do not keep it), no promise. Undefined when it does not, or the input cannot tell.
   */
  peek?(max: number): Buffer | undefined;
}

/**
 * Entries pulled one at a time, synchronously while the input holds them, else through a
 * promise; null at the end. (An async iterator costs several promises an entry, which on a layer
 * of small files was most of the garbage the merge made.) `close()` lets go of the input, once
 * the entries are read or the merge has failed.
 */
export interface EntrySource {
  next(): InputEntry | null | Promise<InputEntry | null>;
  close(): void;
}

/**
 * Reads some of a file's content while its layer streams by; called for every regular file
 * (not hardlinks) with its canonical path relative to the root (`etc/os-release`) and that
 * path's last component (`os-release`: taken from the path, the path's text is copied whole, and
 * that for each of a million files). Returns undefined when not interested, else what to attach
 * to the node.
 */
export type Harvester = (
  path: string,
  entry: InputEntry,
  node: TreeNode,
  base: string,
) => Promise<unknown> | undefined;

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
 * characters or more point into their parent string, and an interned name lives as long as the tree.
 */
function own(name: string): string {
  return name.length < 13 ? name : (JSON.parse(JSON.stringify(name)) as string);
}

/** A whole number in [0, max] (not -0): what fits a packed field. */
function small(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max && !Object.is(v, -0);
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
  private readonly n = this.tree.nodes;
  private readonly opts: MergeOptions;
  private readonly maxEntries: number;
  private readonly maxWarnings: number;
  private droppedWarnings = 0;
  private layer = 0;
  private label = '';
  /**
   * The directory the last entry went into, by the text of its name before the last slash: the
   * entries of a tar come directory by directory, and resolving the same parent again for each
   * (split, normalize, look up every component) was a third of the merge on the bench/inspect
   * image near the cap (950,000 paths). Forgotten whenever anything leaves the tree (remove) and
   * at each layer; adding entries never changes how an existing parent resolves.
   */
  private lastParent: { prefix: string; chain: number[]; path: string } | undefined;

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
  async applyLayer(label: string, entries: EntrySource | AsyncIterable<InputEntry>): Promise<number> {
    this.layer = this.tree.layers.length;
    this.label = label;
    this.lastParent = undefined;
    let n = 0;
    if (Symbol.asyncIterator in entries) {
      for await (const e of entries) {
        n++;
        const reading = this.entry(e);
        if (reading) await reading;
      }
      return n;
    }
    try {
      for (;;) {
        // Only the entries the input does not hold yet, and the files a harvester reads, wait
        // for a promise.
        let e = entries.next();
        if (e instanceof Promise) e = await e;
        if (e === null) return n;
        n++;
        const reading = this.entry(e);
        if (reading) await reading;
      }
    } finally {
      entries.close();
    }
  }

  private where(e: InputEntry): string {
    return `${this.label} entry ${show(e.name)}`;
  }

  private entry(e: InputEntry): Promise<void> | undefined {
    const name = e.name;
    if (name.length > MAX_PATH_LENGTH || (e.linkname?.length ?? 0) > MAX_PATH_LENGTH) {
      this.warn(`${this.where(e)} has a path or link longer than ${MAX_PATH_LENGTH} characters; skipped`);
      return undefined;
    }
    // The text before the last slash, and after it (trailing slashes of a directory left out).
    let end = name.length;
    while (end > 0 && name.charCodeAt(end - 1) === 0x2f) end--;
    const slash = end === 0 ? -1 : name.lastIndexOf('/', end - 1);
    const last = name.slice(slash + 1, end);
    const prefix = slash < 0 ? '' : name.slice(0, slash);
    const plain = last !== '' && last !== '.' && last !== '..' && !last.startsWith('.wh.');
    let parent = this.lastParent;
    let base = last;
    if (!plain || parent === undefined || parent.prefix !== prefix) {
      const parts = normalizeName(name);
      if (parts === null) {
        this.warn(`${this.where(e)} escapes the image root with ".."; skipped`);
        return undefined;
      }
      const b = parts[parts.length - 1];
      if (b === undefined) {
        // `./` or `/`: the root directory's own metadata.
        if (e.type === 'directory') this.setMeta(ROOT, e);
        return undefined;
      }
      if (b.startsWith('.wh.')) {
        this.whiteout(parts, e);
        return undefined;
      }
      parts.pop();
      const found = this.ensureDir(parts, e);
      if (!found) return undefined;
      base = b;
      parent = { prefix, chain: found.chain, path: found.names.join('/') };
      // normalizeName(prefix) plus `last` is what was just resolved when `last` is a plain name.
      if (plain) this.lastParent = parent;
    }
    const n = this.n;
    const dir = parent.chain[parent.chain.length - 1]!;
    const path = parent.path === '' ? base : `${parent.path}/${base}`;
    const existing = n.child(dir, base);
    const N = this.layer;

    let node: number;
    switch (e.type) {
      case 'directory':
        if (existing !== NONE && n.type(existing) === T_DIR) {
          this.setMeta(existing, e);
          n.set(existing, F_LAYER, N);
          n.setTouched(existing, N);
          for (const d of parent.chain) n.setTouched(d, N);
          return undefined;
        }
        node = n.create(T_DIR, 0o755, N, dir, base);
        this.setMeta(node, e);
        break;
      case 'file':
      case 'contiguous-file':
        node = this.leaf(T_FILE, e, dir, base);
        n.setSize(node, e.size);
        break;
      case 'symlink':
        if (!e.linkname) {
          this.warn(`${this.where(e)} is a symlink without a target; skipped`);
          return undefined;
        }
        node = this.leaf(T_SYMLINK, e, dir, base);
        n.setType(node, T_SYMLINK, 0o777);
        n.linkTarget.set(node, e.linkname);
        break;
      case 'link': {
        const linked = this.hardlinkTarget(e);
        if (!linked || linked.id === existing) return undefined;
        node = n.copy(linked.id, N, dir, base);
        n.hardlinkTo.set(node, linked.path);
        break;
      }
      default:
        node = this.leaf(T_OTHER, e, dir, base);
    }
    if (existing !== NONE) this.remove(existing, path);
    this.count();
    if (existing !== NONE) n.replace(existing, node);
    else n.link(node);
    for (const d of parent.chain) n.setTouched(d, N);
    if (n.type(node) === T_FILE && e.type !== 'link' && this.opts.harvest) {
      const p = this.opts.harvest(path, e, new NodeView(n, node), base);
      if (p) {
        return p.then((probe) => {
          if (probe !== undefined) n.probe.set(node, probe);
        });
      }
    }
    return undefined;
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

  private leaf(type: number, e: InputEntry, dir: number, name: string): number {
    const node = this.n.create(type, 0, this.layer, dir, name);
    this.setMeta(node, e);
    return node;
  }

  private setMeta(node: number, e: InputEntry): void {
    const n = this.n;
    n.setType(node, n.type(node), e.mode & 0o7777);
    n.setOwners(node, e.uid, e.gid);
  }

  /**
   * Accounts for a node and everything below it going (wasted bytes, onRemove, the count); the
   * caller then unlinks or replaces it, which frees the storage.
   */
  private remove(node: number, path: string): void {
    this.lastParent = undefined;
    const n = this.n;
    if (n.type(node) === T_FILE && !n.hardlinkTo.has(node)) this.tree.wastedBytes += n.size(node);
    this.opts.onRemove?.(`/${path}`, new NodeView(n, node), this.layer);
    this.tree.size--;
    if (n.type(node) === T_DIR) {
      for (const child of n.children(node)) this.remove(child, `${path}/${n.name(child)}`);
    }
  }

  /** Removes everything below a directory that lower layers wrote, keeping this layer's entries. */
  private purgeLower(dir: number, path: string): void {
    const n = this.n;
    for (const child of n.children(dir)) {
      const name = n.name(child);
      const p = path === '' ? name : `${path}/${name}`;
      if (n.touched(child) < this.layer) {
        this.remove(child, p);
        n.unlink(child);
      } else if (n.type(child) === T_DIR) {
        this.purgeLower(child, p);
        if (n.get(child, F_LAYER) < this.layer) this.implicitDir(child);
      }
    }
  }

  /** A lower directory that this layer deleted and wrote into again: a fresh implied directory. */
  private implicitDir(node: number): void {
    const n = this.n;
    n.setType(node, T_DIR, 0o755);
    n.setOwners(node, 0, 0);
    n.set(node, F_LAYER, this.layer);
  }

  private whiteout(parts: string[], e: InputEntry): void {
    const n = this.n;
    const base = parts[parts.length - 1]!;
    const parentPath = parts.slice(0, -1).join('/');
    const parent = resolveId(n, parentPath, {});
    // Nothing is below a directory that does not exist (or is not a directory): nothing to hide.
    if (!parent.ok || n.type(parent.id) !== T_DIR) return;
    const dirPath = parent.path.slice(1);
    if (base === '.wh..wh..opq') {
      this.purgeLower(parent.id, dirPath);
      return;
    }
    if (base.startsWith('.wh..wh.')) return; // aufs metadata (.wh..wh.plnk, .wh..wh.aufs)
    const name = base.slice(4);
    if (name === '' || name === '.' || name === '..') {
      this.warn(`${this.where(e)} is a whiteout for no file name; skipped`);
      return;
    }
    const node = n.child(parent.id, name);
    if (node === NONE) return;
    const path = dirPath === '' ? name : `${dirPath}/${name}`;
    if (n.touched(node) < this.layer) {
      this.remove(node, path);
      n.unlink(node);
    } else if (n.type(node) === T_DIR && n.get(node, F_LAYER) < this.layer) {
      // This layer also wrote below it: the lower directory goes, this layer's entries stay.
      this.purgeLower(node, path);
      this.implicitDir(node);
    } else if (n.type(node) === T_DIR) {
      this.purgeLower(node, path);
    }
  }

  /**
   * The directory an entry goes into: components resolved through symlinks inside the image,
   * missing directories created. Undefined (with a warning) when that cannot be done.
   */
  private ensureDir(parts: string[], e: InputEntry): { chain: number[]; names: string[] } | undefined {
    const n = this.n;
    const todo = parts.reverse();
    const names: string[] = [];
    const chain: number[] = [ROOT];
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
      let child = n.child(dir, c);
      const type = child === NONE ? NONE : n.type(child);
      if (type === T_SYMLINK) {
        if (++hops > MAX_SYMLINK_HOPS) {
          this.warn(`${this.where(e)} has a parent directory behind a symlink loop; skipped`);
          return undefined;
        }
        const target = n.linkTarget.get(child) ?? '';
        if (target.startsWith('/')) {
          names.length = 0;
          chain.length = 1;
        }
        const tparts = target.split('/');
        for (let i = tparts.length - 1; i >= 0; i--) todo.push(tparts[i]!);
        continue;
      }
      // A lower layer's non-directory here becomes a directory; it stays linked (and is replaced
      // in place below) so that the order of the directory's entries does not change.
      let replaced = NONE;
      if (child !== NONE && type !== T_DIR) {
        const path = [...names, c].join('/');
        if (n.get(child, F_LAYER) === this.layer) {
          this.warn(
            `${this.where(e)} is inside /${path}, which the same layer wrote as a ${TYPES[type]!}; skipped`,
          );
          return undefined;
        }
        this.warn(`${this.where(e)} turns /${path}, a ${TYPES[type]!} of a lower layer, into a directory`);
        this.remove(child, path);
        replaced = child;
        child = NONE;
      }
      if (names.length >= MAX_DEPTH) {
        this.warn(`${this.where(e)} is nested deeper than ${MAX_DEPTH} directories; skipped`);
        return undefined;
      }
      if (child === NONE) {
        this.count();
        child = n.create(T_DIR, 0o755, this.layer, dir, c);
        if (replaced !== NONE) n.replace(replaced, child);
        else n.link(child);
      }
      names.push(c);
      chain.push(child);
    }
    return { chain, names };
  }

  private hardlinkTarget(e: InputEntry): { id: number; path: string } | undefined {
    const parts = e.linkname ? normalizeName(e.linkname) : null;
    if (!parts || parts.length === 0) {
      this.warn(
        `${this.where(e)} is a hardlink to ${show(e.linkname ?? '')}, outside the image root; skipped`,
      );
      return undefined;
    }
    const r = resolveId(this.n, parts.join('/'), { followLast: false });
    if (!r.ok || this.n.type(r.id) === T_DIR) {
      this.warn(
        `${this.where(e)} is a hardlink to ${show(e.linkname ?? '')}, which is ${r.ok ? 'a directory' : 'not in the image'}; skipped`,
      );
      return undefined;
    }
    return { id: r.id, path: r.path };
  }
}
