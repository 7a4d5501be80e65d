/**
 * Refreshes keys/ from Debian's `debian-archive-keyring` package.
 *
 *   node --import tsx scripts/update-debian-keys.ts [--suite trixie] [--mirror URL] [--bootstrap FILE]
 *
 * How: distill's own AptSource reads `dists/<suite>/InRelease` (default trixie), verified with
 * the keys currently in keys/ (or, when keys/ is empty, with the bootstrap keyring: by default
 * this machine's /usr/share/keyrings/debian-archive-keyring.gpg from its own Debian install),
 * takes debian-archive-keyring from the verified Packages index, downloads the .deb verified
 * against its SHA256, and reads it with distill's .deb reader. Every per-release key file the
 * package installs (`/usr/share/keyrings/debian-archive-*.{pgp,gpg,asc}` and
 * `/etc/apt/trusted.gpg.d/*.{asc,gpg,pgp}`; the combined keyring and the removed keys are
 * skipped) is written to keys/ ASCII-armored, one file per key, and keys/README.md records the
 * package version, its SHA256 and every fingerprint. Before writing, the new keys must verify
 * the InRelease of <suite>, <suite>-updates, <suite>-security and the previous stable.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import type * as openpgp from 'openpgp';
import { readDeb } from '../src/debian/deb.js';
import { AptSource, defaultKeysDir, readTrustedKeys } from '../src/sources/apt/index.js';
import { Store } from '../src/store/store.js';

const { values } = parseArgs({
  options: {
    suite: { type: 'string', default: 'trixie' },
    previous: { type: 'string', default: 'bookworm' },
    mirror: { type: 'string' },
    bootstrap: { type: 'string', default: '/usr/share/keyrings/debian-archive-keyring.gpg' },
    arch: { type: 'string', default: 'amd64' },
  },
});
const suite = values.suite!;
const keysDir = defaultKeysDir();

async function currentKeys(): Promise<{ keys: (string | Uint8Array)[]; from: string }> {
  const names = (await readdir(keysDir).catch(() => [] as string[])).filter((n) => n.endsWith('.asc'));
  if (names.length > 0) {
    return {
      keys: await Promise.all(names.map((n) => readFile(join(keysDir, n), 'utf8'))),
      from: `the keys in ${keysDir}`,
    };
  }
  return { keys: [await readFile(values.bootstrap!)], from: values.bootstrap! };
}

function isArchiveKeyFile(path: string): boolean {
  const name = basename(path);
  if (!/\.(asc|gpg|pgp)$/.test(name)) return false;
  if (/removed/.test(name) || /^debian-archive-keyring\./.test(name)) return false;
  return path.startsWith('etc/apt/trusted.gpg.d/') || path.startsWith('usr/share/keyrings/');
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'distill-keys-'));
  try {
    const store = new Store(join(work, 'store'));
    const boot = await currentKeys();
    console.log(`verifying ${suite} with ${boot.from}`);
    const apt = new AptSource({
      store,
      keys: boot.keys,
      ...(values.mirror !== undefined && { mirror: values.mirror }),
    });
    const index = await apt.packages(suite, values.arch!);
    const pkg = index.packages.find((p) => p.name === 'debian-archive-keyring');
    if (!pkg?.filename || !pkg.sha256 || pkg.size === undefined) {
      throw new Error(`debian-archive-keyring is not in ${suite} main ${values.arch}`);
    }
    console.log(`debian-archive-keyring ${pkg.version} (${pkg.filename})`);
    const deb = await apt.fetchDeb({
      name: pkg.name,
      version: pkg.version,
      filename: pkg.filename,
      sha256: pkg.sha256,
      size: pkg.size,
      suite,
    });

    // Every key file of the package, keys deduplicated by fingerprint (first file wins).
    const files = new Map<string, Buffer>();
    await readDeb(await store.open(deb.digest, deb.size), {
      source: pkg.filename,
      onDataEntry: async (entry, body) => {
        if (entry.type !== 'file' || !isArchiveKeyFile(entry.path)) return;
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c as Buffer);
        files.set(entry.path, Buffer.concat(chunks));
      },
    });
    if (files.size === 0) throw new Error('the package holds no per-release key files');
    const byFpr = new Map<string, { key: openpgp.PublicKey; file: string; name: string }>();
    for (const [path, bytes] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      for (const key of await readTrustedKeys([bytes])) {
        const fpr = key.getFingerprint().toUpperCase();
        if (byFpr.has(fpr)) continue;
        const base = basename(path).replace(/\.(asc|gpg|pgp)$/, '');
        byFpr.set(fpr, { key, file: path, name: base });
      }
    }

    // The new keys must verify what distill builds from.
    const keys = [...byFpr.values()].map((k) => k.key.armor());
    const check = new AptSource({
      store,
      keys,
      ...(values.mirror !== undefined && { mirror: values.mirror }),
    });
    const verified: string[] = [];
    for (const s of [suite, `${suite}-updates`, `${suite}-security`, values.previous!]) {
      const rel = await check.release(s);
      verified.push(`${s} (${rel.suite}${rel.version ? ` ${rel.version}` : ''}, ${rel.date})`);
    }

    // Write keys/: one armored file per key, named after the file it came from.
    const names = new Map<string, number>();
    const entries = [...byFpr.entries()].map(([fpr, k]) => {
      const n = (names.get(k.name) ?? 0) + 1;
      names.set(k.name, n);
      return { fpr, ...k, out: `${k.name}${n > 1 ? `-${n}` : ''}.asc` };
    });
    await mkdir(keysDir, { recursive: true });
    for (const old of (await readdir(keysDir).catch(() => [] as string[])).filter((n) =>
      n.endsWith('.asc'),
    )) {
      await rm(join(keysDir, old));
    }
    const rows: string[] = [];
    for (const e of entries) {
      await writeFile(join(keysDir, e.out), e.key.armor());
      const uid = (await e.key.getPrimaryUser().catch(() => undefined))?.user.userID?.userID ?? '';
      const expires = await e.key.getExpirationTime();
      const exp = expires instanceof Date ? expires.toISOString().slice(0, 10) : 'never';
      rows.push(`| \`${e.out}\` | \`${e.fpr}\` | ${uid.replace(/\|/g, '\\|')} | ${exp} | \`/${e.file}\` |`);
    }
    const readme = `# Debian archive keys

The OpenPGP public keys distill trusts by default to verify Debian's \`InRelease\` files
(\`src/sources/apt\`, \`loadDefaultKeys()\`). Written by \`scripts/update-debian-keys.ts\`; do not
edit by hand, run \`node --import tsx scripts/update-debian-keys.ts\` to refresh them.

- Source: Debian package \`debian-archive-keyring\` version \`${pkg.version}\`, from \`${suite}\`
  main (\`${pkg.filename}\`, SHA256 \`${pkg.sha256}\`), downloaded from
  ${apt.debUrl(suite, pkg.filename)}.
- That package was taken from the Packages index of ${suite}, whose InRelease was verified with
  ${boot.from.startsWith('/') ? `this machine's own Debian keyring (\`${boot.from}\`)` : 'the keys then in keys/'}, and
  the .deb was checked against the SHA256 and size in that index.
- One ASCII-armored file per key, converted from the package's per-release key files (the
  combined keyring and the removed keys are not used).
- Checked when written: these keys verify the InRelease of ${verified.join('; ')}.

| File | Fingerprint | User ID | Expires | From |
| --- | --- | --- | --- | --- |
${rows.join('\n')}
`;
    await writeFile(join(keysDir, 'README.md'), readme);
    console.log(`wrote ${entries.length} keys and README.md to ${keysDir}`);
    for (const v of verified) console.log(`  verifies ${v}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
