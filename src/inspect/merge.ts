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
 *
 * Entries an extractor unpacking the layer onto a disk would mishandle (absolute or `..` names,
 * links leading outside the tree, writes through them) are applied as above, confined to the
 * root, and noted in the tree's unsafePaths (unsafe.ts).
 */
import type { Readable } from 'node:stream';
import type { TarHeader } from '../layers/read.js';
import { normalizeName, type Parent, TreeEditor } from './edit.js';
import { F_LAYER, NONE, ROOT, T_DIR, T_FILE, T_OTHER, T_SYMLINK } from './nodes.js';
import { MAX_PATH_LENGTH, NodeView, type TreeNode } from './tree.js';
import { climbsAbove, hasParentRef, WHY } from './unsafe.js';

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

/** Applies layers one after another onto a tree. */
export class Merger extends TreeEditor {
  /** The last component of the entry resolveParent() resolved last. */
  private base = '';

  constructor(opts: MergeOptions = {}) {
    super(opts, opts.maxEntries ?? DEFAULT_MAX_ENTRIES, opts.maxWarnings ?? DEFAULT_MAX_WARNINGS);
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

  private entry(e: InputEntry): Promise<void> | undefined {
    const name = e.name;
    if (name.length > MAX_PATH_LENGTH || (e.linkname?.length ?? 0) > MAX_PATH_LENGTH) {
      this.warn(`${this.where(e)} has a path or link longer than ${MAX_PATH_LENGTH} characters; skipped`);
      return undefined;
    }
    if (name.charCodeAt(0) === 0x2f) this.unsafe(e, 'absolute-name', null, WHY.absolute);
    // The text before the last slash, and after it (trailing slashes of a directory left out).
    let end = name.length;
    while (end > 0 && name.charCodeAt(end - 1) === 0x2f) end--;
    const slash = end === 0 ? -1 : name.lastIndexOf('/', end - 1);
    const last = name.slice(slash + 1, end);
    const prefix = slash < 0 ? '' : name.slice(0, slash);
    const plain = last !== '' && last !== '.' && last !== '..' && !last.startsWith('.wh.');
    const parent = this.lastParent;
    if (plain && parent !== undefined && parent.prefix === prefix) {
      if (parent.dotdot || parent.via !== undefined) this.unsafeParent(e, parent.dotdot, parent.via);
      return this.place(e, parent, last);
    }
    const resolved = this.resolveParent(e, prefix, plain);
    return resolved === undefined ? undefined : this.place(e, resolved, this.base);
  }

  /**
   * The directory an entry goes into when it is not the last one's (the slow path: the name
   * normalized and resolved), its last component left in `base`; undefined when the entry is done
   * with here (the root's own metadata, a whiteout) or skipped.
   */
  private resolveParent(e: InputEntry, prefix: string, plain: boolean): Parent | undefined {
    const name = e.name;
    const parts = normalizeName(name);
    if (parts === null) {
      this.unsafe(e, 'parent-reference', null, WHY.escapes);
      this.warn(`${this.where(e)} escapes the image root with ".."; skipped`);
      return undefined;
    }
    const dotdot = hasParentRef(name);
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
    if (dotdot) this.unsafe(e, 'parent-reference', null, WHY.dotdot);
    parts.pop();
    const found = this.ensureDir(parts, e);
    if (!found) return undefined;
    if (found.via !== undefined) this.unsafeParent(e, false, found.via);
    this.base = b;
    const resolved: Parent = {
      prefix,
      chain: found.chain,
      path: found.names.join('/'),
      dotdot: dotdot && hasParentRef(prefix),
      via: found.via,
    };
    // normalizeName(prefix) plus the last component is what was just resolved when that is a plain name.
    if (plain) this.lastParent = resolved;
    return resolved;
  }

  /** What makes an entry's directory unsafe for an extractor: a `..` in it, a symlink leading out. */
  private unsafeParent(e: InputEntry, dotdot: boolean, via: Parent['via']): void {
    if (dotdot) this.unsafe(e, 'parent-reference', null, WHY.dotdot);
    if (via !== undefined) this.unsafe(e, 'through-symlink', via.path, WHY.through(via.path, via.target));
  }

  /** Puts an entry named `base` into its directory. */
  private place(e: InputEntry, parent: Parent, base: string): Promise<void> | undefined {
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
        if (climbsAbove(e.linkname, parent.chain.length - 1)) {
          this.unsafe(e, 'symlink-outside', e.linkname, WHY.symlink);
        }
        node = this.leaf(T_SYMLINK, e, dir, base);
        n.setType(node, T_SYMLINK, 0o777);
        n.linkTarget.set(node, e.linkname);
        break;
      case 'link': {
        this.unsafeHardlink(e);
        const linked = this.hardlinkTarget(e);
        if (!linked || linked.id === existing) return undefined;
        node = this.copyNode(linked.id, dir, base);
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

  private unsafeHardlink(e: InputEntry): void {
    const target = e.linkname ?? '';
    if (target.charCodeAt(0) === 0x2f) this.unsafe(e, 'hardlink-outside', target, WHY.hardlinkAbsolute);
    else if (hasParentRef(target)) this.unsafe(e, 'hardlink-outside', target, WHY.hardlinkDotdot);
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
}
