/**
 * Reading a Packages index as it streams out of the store: decompressed (gzip, xz or plain),
 * parsed stanza by stanza, only the fields resolving and fetching need kept, optionally only the
 * stanzas of named packages. Split from source.ts, which fetches and verifies the index.
 */
import { pipeline, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Paragraph, parseDeb822Stream } from '../../debian/deb822.js';
import { BinaryPackage } from '../../debian/resolver.js';
import { xzDecompressor } from '../../layers/xz.js';

/** The fields resolving and fetching read; the rest of each stanza is dropped. */
const INDEX_FIELDS = new Set(
  [
    'Package',
    'Version',
    'Architecture',
    'Multi-Arch',
    'Provides',
    'Depends',
    'Pre-Depends',
    'Conflicts',
    'Breaks',
    'Replaces',
    'Filename',
    'Size',
    'SHA256',
    'Priority',
    'Essential',
    'Source',
  ].map((f) => f.toLowerCase()),
);

const interned = new Map<string, string>();
function intern(s: string): string {
  let v = interned.get(s);
  if (v === undefined) {
    v = ownString(s);
    interned.set(v, v);
  }
  return v;
}

/**
 * A copy of `s` that does not keep alive the decompressed chunk it was cut from: V8 keeps
 * substrings as slices of their parent, which would hold the whole index text in memory.
 */
function ownString(s: string): string {
  return s.length <= 12 ? intern2(s) : ` ${s}`.slice(1);
}

const small = new Map<string, string>();
function intern2(s: string): string {
  let v = small.get(s);
  if (v === undefined) {
    v = ` ${s}`.slice(1);
    if (small.size < 100_000) small.set(v, v);
  }
  return v;
}

/**
 * The paragraphs of a Packages index whose first field is `Package: <a wanted name>`, as text,
 * for the deb822 parser; the others are skipped after one look at their first line. A Packages
 * file always starts a stanza with Package (Debian policy 5.3), and the parser still checks
 * what is kept. This turns reading trixie's 68,000 stanzas for fifteen names from seconds of
 * parsing into a scan.
 */
async function* onlyParagraphsOf(
  chunks: AsyncIterable<Uint8Array>,
  names: ReadonlySet<string>,
): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let carry = '';
  const keep = (para: string): boolean => {
    const start = para.startsWith('\n') ? para.replace(/^\n+/, '') : para;
    if (!start.startsWith('Package:')) return start.trim() !== '';
    const eol = start.indexOf('\n');
    return names.has(start.slice(8, eol < 0 ? undefined : eol).trim());
  };
  for await (const chunk of chunks) {
    carry += decoder.decode(chunk, { stream: true });
    const cut = carry.lastIndexOf('\n\n');
    if (cut < 0) continue;
    const block = carry.slice(0, cut + 2);
    carry = carry.slice(cut + 2);
    let out = '';
    for (const para of block.split('\n\n')) if (keep(para)) out += `${para}\n\n`;
    if (out !== '') yield out;
  }
  carry += decoder.decode();
  if (keep(carry)) yield carry;
}

/** Decompresses and parses a Packages stream into BinaryPackages, without holding its text. */
export async function readPackages(
  stream: Readable,
  ext: '.xz' | '.gz' | '',
  suite: string,
  source: string,
  only?: ReadonlySet<string>,
): Promise<BinaryPackage[]> {
  let chunks: AsyncIterable<Uint8Array>;
  if (ext === '.xz') {
    chunks = await xzDecompressor(stream);
  } else if (ext === '.gz') {
    chunks = pipeline(stream, createGunzip(), () => {});
  } else {
    chunks = stream;
  }
  const out: BinaryPackage[] = [];
  try {
    const input = only === undefined ? chunks : onlyParagraphsOf(chunks, only);
    for await (const p of parseDeb822Stream(input, { source })) {
      if (only !== undefined && !only.has(p.get('Package') ?? '')) continue;
      // Keep only what resolving and fetching read: the index's descriptions, tags and the like
      // are most of its 50 MB and would stay in memory for nothing.
      const fields = p.fields
        .filter((f) => INDEX_FIELDS.has(f.name.toLowerCase()))
        .map((f) => ({ name: intern(f.name), value: ownString(f.value), line: f.line }));
      out.push(new BinaryPackage(new Paragraph(fields, p.line), suite));
    }
  } finally {
    stream.destroy();
  }
  return out;
}
