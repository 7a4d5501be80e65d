import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nearest } from '../../src/cli/suggest.js';
import { distill } from '../helpers/cli.js';

/** Usage errors: one sentence in our words, exit 2, and where to read the command's help. */
async function usageError(args: string[], message: RegExp): Promise<void> {
  const r = await distill(args);
  assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '');
  const [first, hint, ...rest] = r.stderr.split('\n');
  assert.match(first!, message, args.join(' '));
  const cmd =
    args[0]!.startsWith('-') ||
    !/^(build|base|lock|inspect|compare|copy|digest|cache|completion)$/.test(args[0]!)
      ? undefined
      : args[0];
  assert.equal(
    hint,
    cmd ? `Run "distill ${cmd} --help" for its options and examples.` : 'Run "distill --help" for usage.',
  );
  assert.deepEqual(rest, ['']);
}

test('unknown options say what they are close to', async () => {
  const cases: [string[], RegExp][] = [
    [['build', '--nod', '20'], /^distill build: unknown option --nod; did you mean --node\?$/],
    [['build', '--plaform', 'linux/arm64'], /; did you mean --platform\?$/],
    [
      ['inspect', 'x', '--fromat', 'json'],
      /^distill inspect: unknown option --fromat; did you mean --format\?$/,
    ],
    [['build', '--metadata', 'm.json'], /; did you mean --metadata-file\?$/],
    [['build', '-O', 'x'], /unknown option -O; did you mean -o \(--output\)\?$/],
    [
      ['inspect', 'x', '--tag', 'y'],
      /unknown option --tag; it is an option of distill build, not of distill inspect$/,
    ],
    [['build', '--frobnicate'], /^distill build: unknown option --frobnicate$/],
  ];
  for (const [args, message] of cases) await usageError(args, message);
});

test("other tools' habits name the distill way", async () => {
  const cases: [string[], RegExp][] = [
    [
      ['base', 'nodejs24', '--push'],
      /unknown option --push; did you mean -o docker:\/\/REGISTRY\/REPO\[:TAG\]\?/,
    ],
    [['base', 'nodejs24', '--load'], /unknown option --load; did you mean -o docker-daemon:NAME\[:TAG\]\?/],
    [['base', 'static', '--tag', 'x:1'], /unknown option --tag; the name is part of each -o REF/],
    [['base', 'static', '-t', 'x:1'], /unknown option -t; the name is part of each -o REF/],
    [['copy', '--push', 'a', 'b'], /unknown option --push; copy writes to DST: distill copy SRC docker:\/\//],
    [['build', '-f', 'Dockerfile'], /unknown option -f; distill build reads no Dockerfile/],
    [['build', '--file', 'Dockerfile'], /unknown option --file; distill build reads no Dockerfile/],
    [['build', '--no-cache'], /unknown option --no-cache; did you mean --pull\?/],
    [['build', '--build-arg', 'A=1'], /did you mean -e NAME=VALUE\?/],
    [['base', 'static', '--platform', 'linux/arm64'], /did you mean --arch amd64,arm64\?/],
    [['copy', 'a', 'b', '--all'], /did you mean --platform all\?/],
    [
      ['build', '--output', 'type=registry,name=ghcr.io/a/b:1'],
      /not buildx's "type=registry,name=ghcr.io\/a\/b:1"; write -o docker:\/\/ghcr.io\/a\/b:1$/,
    ],
    [['build', '-o', 'type=docker,name=my/app'], /write -o docker-daemon:my\/app$/],
    [['build', '-o', 'type=oci,dest=out.tar'], /write -o oci-archive:out.tar$/],
  ];
  for (const [args, message] of cases) await usageError(args, message);
});

test('unknown commands, misplaced options, missing and extra values', async () => {
  const cases: [string[], RegExp][] = [
    [['buidl'], /^distill: unknown command "buidl"; did you mean distill build\?$/],
    [
      ['push', 'x'],
      /unknown command "push"; distill copy SRC docker:\/\/REGISTRY\/REPO\[:TAG\] pushes an image/,
    ],
    [['--quiet', 'build'], /^distill: options come after the command/],
    [['build', '--node'], /^distill build: --node needs a value \(--node SPEC\), but nothing follows it$/],
    [
      ['build', '--node', '--pull'],
      /--node needs a value \(--node SPEC\), but the option --pull follows it$/,
    ],
    [['build', '--quiet=yes'], /^distill build: --quiet takes no value \(given "yes"\)$/],
    [
      ['build', '--format', 'json', '--format', 'text'],
      /--format is given twice \("json" and "text"\); it takes one value$/,
    ],
    [['build', '--push'], /--push pushes to the registry each -t names: add -t REGISTRY\/REPO\[:TAG\]/],
    [['build', '-t', 'app:1', '--push'], /--push needs a registry in -t app:1: write -t REGISTRY\/app:1/],
    [['build', '-t', 'Not A Name'], /"Not A Name" is not a valid image reference/],
    [
      ['inspect', 'oci:x', '-o', 'json'],
      /-o takes the file to write the report to, not a format: for json on stdout write --format json/,
    ],
    [
      ['compare', 'oci:x', 'oci:y', '-o', 'html'],
      /for html on stdout write --format html \(for a file, -o report\.html\)/,
    ],
    [
      ['inspect', 'oci:x', '-o', 'r.html', '--format', 'json'],
      /-o r\.html names html but --format says json/,
    ],
    [
      ['cache', 'prune', '--all', '--older-than', '3'],
      /--all removes everything and --older-than keeps recent blobs/,
    ],
    [['completion', 'tcsh'], /completion takes the shell: distill completion bash\|zsh\|fish, not "tcsh"/],
  ];
  for (const [args, message] of cases) await usageError(args, message);
});

test('nearest: within 1 edit up to 4 letters, 2 beyond, or the one name a prefix begins', () => {
  assert.deepEqual(nearest('buidl', ['build', 'base']), ['build']);
  assert.deepEqual(nearest('nope', ['copy', 'lock']), []);
  assert.deepEqual(nearest('lok', ['lock', 'load']), ['lock']);
  assert.deepEqual(nearest('meta', ['metadata-file', 'mirror']), ['metadata-file']);
  assert.deepEqual(nearest('no', ['node', 'node-mirror']), [], 'a prefix of two names names neither');
});
