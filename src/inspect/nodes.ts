/**
 * The compact storage of the merged tree (tree.ts): node records in pages of Int32Arrays, names
 * interned, children found through one open-addressing table keyed by (parent, name). Ids are
 * plain numbers; tree.ts's views and merge.ts's Merger read and write through them.
 */
import { DistillError } from '../errors.js';

// ---- compact storage ----

export const NONE = -1;
export const ROOT = 0;
export const T_FILE = 0;
export const T_DIR = 1;
export const T_SYMLINK = 2;
export const T_OTHER = 3;

/** Nodes per page: pages are never copied as the tree grows, so growing costs no transient garbage. */
const PAGE_BITS = 14;
const PAGE_MASK = (1 << PAGE_BITS) - 1;
/** Int32 fields of a node's record. */
const STRIDE = 8;
/** type (bits 0-1) | mode << 2; -1 once the node is freed. */
export const F_META = 0;
/** uid << 16 | gid when both are below 65535, else ASIDE. */
const F_OWNER = 1;
export const F_LAYER = 2;
/** Index into the interned names. */
export const F_NAME = 3;
export const F_PARENT = 4;
/** First child; the first child's F_PREV is the last child. */
export const F_FIRST = 5;
/** Next sibling (next free node once freed). */
export const F_NEXT = 6;
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
export class Nodes {
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
