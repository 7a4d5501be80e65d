import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { CLI_DOC, cliDoc, README, readmeWithHelp } from '../../scripts/cli-docs.js';
import { COMMANDS } from '../../src/cli/specs/index.js';
import { distill } from '../helpers/cli.js';

test('every command has its own --help: usage, its own options, examples; help CMD and -h print the same', async () => {
  for (const cmd of COMMANDS) {
    const r = await distill([cmd.name, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.split('\n');
    assert.match(lines[0]!, new RegExp(`^Usage: distill ${cmd.name}\\b`));
    for (const o of cmd.options) {
      const label = `${o.short !== undefined ? `-${o.short}, ` : ''}--${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`;
      assert.ok(
        lines.some((l) => l.trimStart().startsWith(label)),
        `${cmd.name} --help lists ${label}`,
      );
    }
    assert.ok(cmd.examples.length >= 2 && cmd.examples.length <= 3, `${cmd.name} has 2 or 3 examples`);
    const examples = lines.slice(lines.indexOf('Examples:'));
    for (const [line] of cmd.examples) assert.ok(examples.includes(`  ${line}`), `${cmd.name}: ${line}`);
    assert.ok(
      lines.every((l) => l.length <= 100),
      `${cmd.name} --help fits 100 columns`,
    );
    assert.deepEqual(await distill(['help', cmd.name]), r);
    assert.deepEqual(await distill([cmd.name, '-h']), r);
  }
  // A command's help holds its options, not another command's.
  const copy = (await distill(['copy', '--help'])).stdout;
  assert.match(copy, /--manifest-format oci\|docker/);
  assert.doesNotMatch(copy, /--healthcheck|--deny|--load/);
  const build = (await distill(['build', '--help'])).stdout;
  assert.match(build, /^ {2}-t, --tag NAME\[:TAG\] +the image's name/m);
  assert.match(build, /^ {6}--load +load the image into the Docker engine/m);
  assert.match(build, /^ {2}-p, --port PORT\[\/udp\] .*\n.*\(repeatable\)$/m);
});

test('the global help lists every command; bare distill prints it and exits 2', async () => {
  const r = await distill(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of COMMANDS) {
    assert.match(
      r.stdout,
      new RegExp(`^ {2}${cmd.name}\\b.* {2}${cmd.summary.split(' ').slice(0, 3).join(' ')}`, 'm'),
    );
  }
  assert.deepEqual(await distill(['help']), r);
  const bare = await distill([]);
  assert.equal(bare.code, 2);
  assert.equal(bare.stdout, r.stdout);
});

test('docs/CLI.md and the help in README.md are what distill prints (npm run docs:cli)', async () => {
  assert.equal(await readFile(CLI_DOC, 'utf8'), await cliDoc(), 'docs/CLI.md is stale: run npm run docs:cli');
  const readme = await readFile(README, 'utf8');
  assert.equal(readme, await readmeWithHelp(readme), 'README.md help is stale: run npm run docs:cli');
  // Each command's help is in docs/CLI.md whole.
  const doc = await readFile(CLI_DOC, 'utf8');
  for (const cmd of COMMANDS) assert.ok(doc.includes((await distill([cmd.name, '--help'])).stdout.trimEnd()));
  // README keeps its first two commands at the very top.
  assert.match(
    readme,
    /^# distill\n\n[^\n]+\n[^\n]+\n\n```sh\nnpm ci && npx distill build examples\/hello\nnpm test\n```/,
  );
});
