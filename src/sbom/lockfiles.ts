/**
 * What pnpm's and yarn's lockfiles say of each resolved package, by `name@version`: the tarball's
 * integrity (SRI) and where it was downloaded from, where the lockfile has them. Only these two
 * facts are read; which packages the image holds comes from its node_modules (tree.ts).
 *
 * - pnpm-lock.yaml (v5 `/name/1.0.0`, v6 `/name@1.0.0`, v9 `name@1.0.0` keys, peer suffixes
 *   `(...)` or `_...` dropped): `resolution.integrity`, and `resolution.tarball` when pnpm keeps
 *   one (a registry package's URL is not kept: the lockfile has none to give).
 * - yarn.lock v1: `resolved` (URL, with yarn's `#sha1` fragment) and `integrity`. The format is
 *   yarn's own (not YAML); the few fields read are parsed here by hand, as `@yarnpkg/lockfile`
 *   (the parser yarn published for it) has not been maintained since 2018.
 * - yarn.lock of yarn 2+ (YAML): its `checksum` is of yarn's own zip archive, not of the npm
 *   tarball, so it is no integrity of what the registry served and is left out; `resolution`
 *   gives a URL only for packages resolved from one.
 */
import { readYaml } from '../plan/native-lockfiles.js';

export interface LockedResolution {
  integrity?: string;
  resolved?: string;
}

export type Resolutions = Map<string, LockedResolution>;

/** The parser is plan's: loaded on use, the same module in the bundle as in the sources. */
const parseYamlText = readYaml;

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** `name@version` of a pnpm packages key, whatever the lockfile version. */
export function pnpmKey(key: string): string | undefined {
  const k = key.replace(/^\//, '').replace(/\(.*$/, '');
  // v5: name/1.0.0 or @scope/name/1.0.0, peers after `_`.
  const v5 = /^((?:@[^/]+\/)?[^/@]+)\/([^/]+)$/.exec(k);
  if (v5) return `${v5[1]}@${v5[2]!.replace(/_.*$/, '')}`;
  const at = k.indexOf('@', 1);
  return at > 0 ? `${k.slice(0, at)}@${k.slice(at + 1).replace(/_.*$/, '')}` : undefined;
}

export async function pnpmResolutions(text: string, file: string): Promise<Resolutions> {
  const lock = (await parseYamlText(text, file)) as { packages?: Record<string, { resolution?: unknown }> };
  const out: Resolutions = new Map();
  for (const [key, entry] of Object.entries(lock.packages ?? {})) {
    const id = pnpmKey(key);
    const r = entry?.resolution as { integrity?: unknown; tarball?: unknown } | undefined;
    if (id === undefined || !r) continue;
    const integrity = str(r.integrity);
    const resolved = str(r.tarball);
    out.set(id, {
      ...(integrity && { integrity }),
      ...(resolved && /^https?:\/\//.test(resolved) && { resolved }),
    });
  }
  return out;
}

/** The package name of a yarn v1 pattern (`"@s/a@^1.0.0"`, `a@npm:b@^2`). */
function yarnName(pattern: string): string {
  const p = pattern.trim().replace(/^"|"$/g, '');
  return p.slice(0, p.indexOf('@', 1));
}

function unquote(v: string): string {
  const t = v.trim();
  return t.startsWith('"') && t.endsWith('"') ? (JSON.parse(t) as string) : t;
}

export function yarnClassicResolutions(text: string): Resolutions {
  const out: Resolutions = new Map();
  let names: string[] = [];
  let fields: Record<string, string> = {};
  const flush = () => {
    const version = fields.version;
    if (version !== undefined) {
      for (const name of names) {
        out.set(`${name}@${version}`, {
          ...(fields.integrity && { integrity: fields.integrity }),
          ...(fields.resolved && /^https?:\/\//.test(fields.resolved) && { resolved: fields.resolved }),
        });
      }
    }
    names = [];
    fields = {};
  };
  for (const line of text.split(/\r?\n/)) {
    if (line.startsWith('#') || line.trim() === '') continue;
    if (!line.startsWith(' ')) {
      flush();
      names = [...new Set(line.replace(/:$/, '').split(',').map(yarnName))];
      continue;
    }
    const m = /^ {2}(version|resolved|integrity) (.+)$/.exec(line);
    if (m) fields[m[1]!] = unquote(m[2]!);
  }
  flush();
  return out;
}

export async function yarnBerryResolutions(text: string, file: string): Promise<Resolutions> {
  const lock = (await parseYamlText(text, file)) as Record<
    string,
    { version?: unknown; resolution?: unknown }
  >;
  const out: Resolutions = new Map();
  for (const [key, entry] of Object.entries(lock)) {
    const version = str(entry?.version);
    if (key === '__metadata' || version === undefined) continue;
    const name = yarnName(key.split(',')[0]!);
    const resolution = str(entry.resolution) ?? '';
    const url = resolution.slice(resolution.indexOf('@', 1) + 1);
    out.set(`${name}@${version}`, /^https?:\/\//.test(url) ? { resolved: url } : {});
  }
  return out;
}

/** The resolutions of an app's lockfile, by its name; undefined for npm's (npm.ts reads those). */
export async function lockResolutions(lockfile: string, text: string): Promise<Resolutions | undefined> {
  if (lockfile === 'pnpm-lock.yaml') return pnpmResolutions(text, lockfile);
  if (lockfile === 'yarn.lock') {
    const classic = /yarn lockfile v1|THIS IS AN AUTOGENERATED FILE/.test(text.slice(0, 200));
    return classic ? yarnClassicResolutions(text) : yarnBerryResolutions(text, lockfile);
  }
  return undefined;
}
