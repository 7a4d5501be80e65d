import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import fc from 'fast-check';
import * as tarStream from 'tar-stream';
import { readLayer, TarReader } from '../../src/layers/read.js';

/**
 * readLayer's tar reader (layers/read.ts TarReader) against tar-stream's extract, which it
 * replaced: the same headers, contents and verdict on tars written by tar-stream (long names, pax
 * records, every entry type), cut short or with damaged header bytes, fed in chunks of any size.
 */

interface Got {
  entries: unknown[];
  error: boolean;
  /** The error's code and message (readLayer only). */
  why?: string;
}

async function withTarStream(tar: Buffer, chunk: number): Promise<Got> {
  const entries: unknown[] = [];
  const extract = tarStream.extract();
  const src = Readable.from(chunks(tar, chunk));
  src.on('error', (err) => extract.destroy(err));
  src.pipe(extract);
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const pax = (h.pax as Record<string, string> | null | undefined) ?? null;
      const parts: Buffer[] = [];
      // tar-stream never ends the body of a directory that declares a size (reading it hangs);
      // readLayer gives it as empty.
      if (h.type === 'directory') entry.resume();
      else for await (const c of entry) parts.push(c as Buffer);
      const num = (key: string, fallback: number) => (pax?.[key] === undefined ? fallback : Number(pax[key]));
      entries.push({
        name: h.name,
        type: h.type ?? 'unknown',
        mode: h.mode ?? 0,
        uid: num('uid', h.uid ?? 0),
        gid: num('gid', h.gid ?? 0),
        size: h.size ?? 0,
        mtime:
          pax?.mtime === undefined ? Math.floor(h.mtime!.getTime() / 1000) : Math.floor(Number(pax.mtime)),
        linkname: h.linkname ?? null,
        uname: h.uname ?? '',
        gname: h.gname ?? '',
        pax,
        content: Buffer.concat(parts).toString('base64'),
      });
    }
    return { entries, error: false };
  } catch {
    return { entries, error: true };
  }
}

async function withReadLayer(tar: Buffer, chunk: number): Promise<Got> {
  const entries: unknown[] = [];
  try {
    for await (const { header, body } of readLayer(Readable.from(chunks(tar, chunk)), {
      compression: 'none',
    })) {
      const parts: Buffer[] = [];
      for await (const c of body) parts.push(c as Buffer);
      entries.push({
        ...header,
        type: header.type === 'unknown' ? 'unknown' : header.type,
        content: Buffer.concat(parts).toString('base64'),
      });
    }
    return { entries, error: false };
  } catch (err) {
    return { entries, error: true, why: `${(err as { code?: string }).code}: ${(err as Error).message}` };
  }
}

function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

interface Spec {
  name: string;
  type: 'file' | 'directory' | 'symlink' | 'link' | 'fifo' | 'character-device';
  size: number;
  mode: number;
  uid: number;
  mtime: number;
  linkname: string;
  pax: Record<string, string> | undefined;
}

async function pack(specs: Spec[]): Promise<Buffer> {
  const p = tarStream.pack();
  const out: Buffer[] = [];
  p.on('data', (c: unknown) => {
    out.push(c as Buffer);
  });
  const ended = new Promise<void>((resolve) => p.on('end', () => resolve()));
  for (const s of specs) {
    const header = {
      name: s.name,
      type: s.type,
      mode: s.mode,
      uid: s.uid,
      gid: 7,
      mtime: new Date(s.mtime * 1000),
      ...(s.type === 'symlink' || s.type === 'link' ? { linkname: s.linkname } : {}),
      ...(s.pax && { pax: s.pax }),
    };
    if (s.type === 'file') p.entry(header, Buffer.alloc(s.size, s.name.length));
    else p.entry(header);
  }
  p.finalize();
  await ended;
  return Buffer.concat(out);
}

const segment = fc.constantFrom('a', 'bin', 'é', '\u{1F600}', 'x'.repeat(60), 'node_modules', '.', '..');
const specArb: fc.Arbitrary<Spec> = fc.record({
  name: fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/')),
  type: fc.constantFrom('file', 'file', 'directory', 'symlink', 'link', 'fifo', 'character-device'),
  size: fc.constantFrom(0, 1, 511, 512, 513, 3000),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.constantFrom(0, 1000, 2_097_151, 3_000_000),
  mtime: fc.integer({ min: 0, max: 2 ** 33 }),
  linkname: fc.constantFrom('target', 'l'.repeat(150)),
  pax: fc.option(
    fc.constantFrom<Record<string, string>>({ 'SCHILY.xattr.user.a': 'b' }, { mtime: '12.5' }, { uid: '5' }),
    {
      nil: undefined,
    },
  ),
});

const damage = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('poke' as const),
    block: fc.nat(),
    at: fc.constantFrom(0, 100, 124, 136, 148, 156, 257, 263, 345, 400),
    value: fc.constantFrom(0, 0x20, 0x30, 0x37, 0x38, 0x80, 0xff),
    // With the checksum made right again, the damage reaches the fields' decoding.
    resum: fc.boolean(),
  }),
);
type Damage = typeof damage extends fc.Arbitrary<infer T> ? T : never;

function resum(block: Buffer): void {
  let sum = 8 * 32;
  for (let i = 0; i < 512; i++) if (i < 148 || i >= 156) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
}

/** A tar cut short, or with one byte changed (its header checksum made right again or not). */
function damaged(packed: Buffer, d: Damage): Buffer {
  let tar = packed;
  if (d.kind === 'cut') tar = tar.subarray(0, d.at % (tar.length + 1));
  if (d.kind === 'poke' && tar.length >= 512) {
    tar = Buffer.from(tar);
    const block = (d.block % (tar.length / 512)) * 512;
    tar[block + d.at] = d.value;
    if (d.resum) resum(tar.subarray(block, block + 512));
  }
  return tar;
}

/** Indexes of the blocks holding PAX records in a tar as tar-stream's pack writes it. */
function paxDataBlocks(tar: Buffer): Set<number> {
  const out = new Set<number>();
  for (let i = 0; (i + 1) * 512 <= tar.length; ) {
    const h = tar.subarray(i * 512, i * 512 + 512);
    if (h.every((b) => b === 0)) break;
    const size = Number.parseInt(h.toString('latin1', 124, 136), 8) || 0;
    const flag = String.fromCharCode(h[156]!);
    const blocks = flag === '5' ? 0 : Math.ceil(size / 512);
    if (flag === 'x' || flag === 'g') for (let k = 1; k <= blocks; k++) out.add(i + k);
    i += 1 + blocks;
  }
  return out;
}

test('reads what tar-stream reads, and fails where it fails; refuses PAX records tar-stream takes as they come', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(specArb, { maxLength: 6 }),
      damage,
      fc.constantFrom(1, 7, 512, 4096, 65536),
      async (specs, d, chunk) => {
        const packed = await pack(specs);
        const tar = damaged(packed, d);
        const { why, ...ours } = await withReadLayer(tar, chunk);
        const theirs = await withTarStream(tar, chunk);
        const inPax =
          d.kind === 'poke' &&
          packed.length >= 512 &&
          paxDataBlocks(packed).has(d.block % (packed.length / 512));
        // A damaged PAX record: tar-stream stops reading the records there and goes on; GNU tar and
        // distill refuse the archive.
        if (inPax && ours.error && /PAX header/.test(why ?? '')) assert.match(why ?? '', /^LAYER_INVALID: /);
        else assert.deepEqual(ours, theirs);
      },
    ),
    { numRuns: 400 },
  );
});

/**
 * The headers of a tar through TarReader: awaiting next() for each, or taking nextBuffered()
 * whenever it gives one (`sync`), with the start of every other entry read by head() and, in the
 * sync run, peek() checked against it.
 */
async function withTarReader(tar: Buffer, chunk: number, sync: boolean): Promise<Got> {
  const entries: unknown[] = [];
  const reader = new TarReader(Readable.from(chunks(tar, chunk)));
  try {
    for (let i = 0; ; i++) {
      const h = sync ? (reader.nextBuffered() ?? (await reader.next())) : await reader.next();
      if (h === null) break;
      let head: string | null = null;
      let peekAgrees = true;
      if (i % 2 === 0) {
        const peeked = sync ? reader.peek(600) : undefined;
        const copy = peeked && Buffer.from(peeked);
        const { bytes } = await reader.head(600);
        head = bytes.toString('base64');
        peekAgrees = copy === undefined || copy.equals(bytes);
      }
      entries.push({ ...h, head, peekAgrees });
    }
    return { entries, error: false };
  } catch {
    return { entries, error: true };
  }
}

test('nextBuffered() and peek() give what next() and head() give, in chunks of any size', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(specArb, { maxLength: 6 }),
      damage,
      fc.constantFrom(1, 7, 512, 1000, 4096, 65536),
      async (specs, d, chunk) => {
        const tar = damaged(await pack(specs), d);
        assert.deepEqual(await withTarReader(tar, chunk, true), await withTarReader(tar, chunk, false));
      },
    ),
    { numRuns: 400 },
  );
});

/** A ustar header block written by hand, so that it can say what tar-stream's pack never would. */
function block(fields: {
  name: string;
  flag?: string;
  size?: string | Buffer;
  mode?: string;
  uid?: Buffer;
}): Buffer {
  const b = Buffer.alloc(512);
  b.write(fields.name, 0, 'utf8');
  b.write(fields.mode ?? '000644 \0', 100, 'latin1');
  if (fields.uid) fields.uid.copy(b, 108);
  else b.write('000000 \0', 108, 'latin1');
  b.write('000000 \0', 116, 'latin1');
  if (Buffer.isBuffer(fields.size)) fields.size.copy(b, 124);
  else b.write(fields.size ?? '00000000000 ', 124, 'latin1');
  b.write('00000000000 ', 136, 'latin1');
  b.write(fields.flag ?? '0', 156, 'latin1');
  b.write('ustar\u000000', 257, 'latin1');
  resum(b);
  return b;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = body.length + 1;
  if (String(len).length + body.length !== len) len = String(len + 1).length + body.length;
  return `${len}${body}`;
}

test('reads what tar-stream reads in the corners: sizes on directories, empty and global pax records, base-256 numbers', async () => {
  const data = (n: number) => Buffer.alloc(Math.ceil(n / 512) * 512, 0x61);
  const pax = (text: string, flag: string) =>
    Buffer.concat([
      block({ name: 'pax', flag, size: text.length.toString(8).padStart(11, '0') }),
      data(text.length).fill(0).fill(text, 0, text.length),
    ]);
  const cases: Buffer[] = [
    // a directory that declares content: tar-stream reads the next block as a header
    Buffer.concat([block({ name: 'd/', flag: '5', size: '00000001000 ' }), block({ name: 'after' })]),
    // an empty pax header, then an entry
    Buffer.concat([block({ name: 'pax', flag: 'x', size: '00000000000 ' }), block({ name: 'plain' })]),
    // a global pax header applies only together with an entry's own
    Buffer.concat([
      pax(paxRecord('uid', '42'), 'g'),
      block({ name: 'no-own-pax' }),
      pax(paxRecord('gid', '43'), 'x'),
      block({ name: 'own-pax' }),
    ]),
    // pax size over the header's
    Buffer.concat([pax(paxRecord('size', '3'), 'x'), block({ name: 'f' }), data(3)]),
    // base-256 uid and size, and a field that is neither
    Buffer.concat([
      block({
        name: 'big',
        uid: Buffer.from([0x80, 0, 0, 0, 0, 0, 1, 0]),
        size: Buffer.from([0x80, ...Array(10).fill(0), 2]),
      }),
      data(2),
      block({ name: 'odd', uid: Buffer.from([0x81, 1, 2, 3, 4, 5, 6, 7]) }),
    ]),
    // a file name with a trailing slash stays a file
    block({ name: 'slash/' }),
    // octal fields led by spaces or NULs
    block({ name: 'spaced', mode: '  755 \0\0' }),
  ];
  for (const [i, tar] of cases.entries()) {
    for (const chunk of [1, 512, 65536]) {
      const padded = Buffer.concat([tar, Buffer.alloc(1024)]);
      assert.deepEqual(
        await withReadLayer(padded, chunk),
        await withTarStream(padded, chunk),
        `case ${i}, chunks of ${chunk}`,
      );
    }
  }
});
