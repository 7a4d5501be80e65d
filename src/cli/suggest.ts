import leven from 'leven';
import type { CommandSpec } from './spec.js';

/**
 * What an unknown option or command is close to: first the habits of other tools (docker build,
 * buildx, ko, skopeo), which name the distill way of saying the same thing, then the nearest
 * names by edit distance (leven), then another command that has the option.
 */

type Habit = (cmd: CommandSpec) => string | undefined;

const has = (cmd: CommandSpec, name: string) => cmd.options.some((o) => o.name === name);
const writesOutputs = (cmd: CommandSpec) => cmd.options.some((o) => o.name === 'output' && o.value === 'REF');

function writeTo(cmd: CommandSpec, ref: string, what: string): string {
  if (writesOutputs(cmd))
    return `did you mean -o ${ref}? (distill ${cmd.name} writes the image to every -o REF)`;
  if (cmd.name === 'copy') return `copy writes to DST: distill copy SRC ${ref}`;
  return `distill ${cmd.name} ${what}; distill copy SRC ${ref} does that`;
}

/** Options people type from habit, by long name (or one letter), for commands that lack them. */
const HABITS: Record<string, Habit> = {
  push: (cmd) => writeTo(cmd, 'docker://REGISTRY/REPO[:TAG]', 'pushes nothing'),
  load: (cmd) => writeTo(cmd, 'docker-daemon:NAME[:TAG]', 'loads nothing into Docker'),
  tag: (cmd) =>
    writesOutputs(cmd)
      ? 'the name is part of each -o REF: -o docker-daemon:NAME:TAG or -o docker://REGISTRY/REPO:TAG'
      : cmd.name === 'copy'
        ? 'the name is part of DST: distill copy SRC docker://REGISTRY/REPO:TAG'
        : undefined,
  file: (cmd) =>
    cmd.name === 'build'
      ? 'distill build reads no Dockerfile: it builds the app directory (distill build DIR) from its package.json and lockfile'
      : undefined,
  'no-cache': (cmd) =>
    has(cmd, 'pull')
      ? 'did you mean --pull? (it resolves Node and the base packages again; layers are rebuilt whenever their inputs change)'
      : 'distill cache prune empties the cache',
  'build-arg': (cmd) =>
    has(cmd, 'env')
      ? 'did you mean -e NAME=VALUE? (distill build runs no Dockerfile; -e sets the environment)'
      : undefined,
  progress: (cmd) =>
    has(cmd, 'quiet') ? 'progress goes to stderr; did you mean --quiet? (none at all)' : undefined,
  json: (cmd) => (has(cmd, 'format') ? 'did you mean --format json?' : undefined),
  name: (cmd) => (has(cmd, 'tag') ? 'did you mean -t NAME[:TAG]?' : undefined),
  expose: (cmd) => (has(cmd, 'port') ? 'did you mean -p PORT?' : undefined),
  entrypoint: (cmd) =>
    cmd.name === 'build'
      ? 'the entrypoint is always node; did you mean --cmd "FILE ARGS"?'
      : has(cmd, 'file')
        ? 'set entrypoint: [...] in a base.yaml given with -f'
        : undefined,
  target: (cmd) =>
    cmd.name === 'build'
      ? 'distill build has no stages; --build-script NAME picks the script it runs'
      : undefined,
  arch: (cmd) => (has(cmd, 'platform') ? 'did you mean --platform linux/ARCH?' : undefined),
  platform: (cmd) => (has(cmd, 'arch') ? 'did you mean --arch amd64,arm64?' : undefined),
  all: (cmd) => (has(cmd, 'platform') ? 'did you mean --platform all?' : undefined),
  'tls-verify': (cmd) =>
    has(cmd, 'insecure') ? 'did you mean --insecure? (plain HTTP to a registry not on loopback)' : undefined,
  username: (cmd) => (has(cmd, 'creds') ? 'did you mean --creds USER:PASS?' : undefined),
  password: (cmd) => (has(cmd, 'creds') ? 'did you mean --creds USER:PASS?' : undefined),
  verbose: () =>
    'progress goes to stderr unless --quiet; DISTILL_VERBOSE=1 also shows the output of installs',
  version: () => 'distill --version prints the version',
};
const HABIT_ALIASES: Record<string, string> = {
  dockerfile: 'file',
  f: 'file',
  t: 'tag',
  v: 'verbose',
  'src-tls-verify': 'tls-verify',
  'dest-tls-verify': 'tls-verify',
  'dest-creds': 'username',
  'src-creds': 'username',
};

/** The names in `names` nearest to `typed`: within 2 edits (1 up to 4 letters), or that it begins. */
export function nearest(typed: string, names: readonly string[]): string[] {
  const limit = typed.length <= 4 ? 1 : 2;
  const scored = names
    .map((n) => ({ n, d: leven(typed, n) }))
    .filter(({ d }) => d <= limit)
    .sort((a, b) => a.d - b.d);
  if (scored.length > 0) return scored.filter((s) => s.d === scored[0]!.d).map((s) => s.n);
  if (typed.length >= 3) {
    const prefixed = names.filter((n) => n.startsWith(typed));
    if (prefixed.length === 1) return prefixed;
  }
  return [];
}

function label(cmd: CommandSpec, name: string): string {
  const o = cmd.options.find((x) => x.name === name);
  return o?.short !== undefined ? `-${o.short}/--${name}` : `--${name}`;
}

/**
 * The sentence for an unknown option (`raw` as typed: `--foo`, `-x`) of `cmd`, with what it is
 * close to when anything is.
 */
export function unknownOption(cmd: CommandSpec, raw: string, all: readonly CommandSpec[]): string {
  const name = raw.replace(/^-+/, '');
  const head = `unknown option ${raw}`;
  const habitName = raw.startsWith('--') ? (HABIT_ALIASES[name] ?? name) : HABIT_ALIASES[name];
  const habit = habitName !== undefined ? HABITS[habitName]?.(cmd) : undefined;
  if (habit !== undefined) return `${head}; ${habit}`;
  if (!raw.startsWith('--')) {
    const other = cmd.options.find(
      (o) => o.short !== undefined && o.short.toLowerCase() === name.toLowerCase(),
    );
    return other ? `${head}; did you mean -${other.short} (--${other.name})?` : head;
  }
  const near = nearest(
    name,
    cmd.options.map((o) => o.name),
  );
  if (near.length > 0) return `${head}; did you mean ${near.map((n) => label(cmd, n)).join(' or ')}?`;
  const elsewhere = all.filter((c) => c !== cmd && c.options.some((o) => o.name === name)).map((c) => c.name);
  if (elsewhere.length > 0) {
    return `${head}; it is an option of distill ${elsewhere.join(', distill ')}, not of distill ${cmd.name}`;
  }
  return head;
}

/** Commands of other tools, and what distill says instead. */
const COMMAND_HABITS: Record<string, string> = {
  push: 'distill copy SRC docker://REGISTRY/REPO[:TAG] pushes an image (distill build --push pushes what it builds)',
  pull: 'distill copy docker://REF oci:DIR pulls an image (distill inspect REF reads one where it is)',
  load: 'distill copy SRC docker-daemon:NAME[:TAG] loads an image into Docker (distill build --load, what it builds)',
  save: 'distill copy SRC docker-archive:FILE (or oci-archive:FILE) writes an image to a file',
  export: 'distill copy SRC docker-archive:FILE (or oci-archive:FILE) writes an image to a file',
  tag: 'distill copy SRC DST names the copy DST',
  run: 'distill makes images and Docker runs them: distill build --load prints the docker run line',
  diff: 'distill compare REF REF... puts images side by side',
  scan: "distill inspect REF --security asks Debian's security archive about an image's packages",
  login: 'distill reads the credentials docker login writes (~/.docker/config.json), or --creds USER:PASS',
  images: 'docker images lists what Docker has; distill cache du shows what distill keeps',
  prune: 'distill cache prune empties the cache',
};

export function unknownCommand(name: string, all: readonly CommandSpec[]): string {
  const head = `unknown command "${name}"`;
  const habit = COMMAND_HABITS[name];
  if (habit !== undefined) return `${head}; ${habit}`;
  const near = nearest(
    name,
    all.map((c) => c.name),
  );
  return near.length > 0 ? `${head}; did you mean distill ${near.join(' or distill ')}?` : head;
}
