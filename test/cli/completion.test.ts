import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { COMMANDS } from '../../src/cli/specs/index.js';
import { distill } from '../helpers/cli.js';
import { requireComponents, tempDir } from '../helpers/components.js';

async function script(shell: string): Promise<string> {
  const r = await distill(['completion', shell]);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

test('each completion script names every command and every option of each', async () => {
  for (const shell of ['bash', 'zsh', 'fish']) {
    const text = await script(shell);
    for (const cmd of COMMANDS) {
      assert.match(text, new RegExp(`\\b${cmd.name}\\b`), `${shell}: ${cmd.name}`);
      // The options are listed in the command's own part of the script.
      const part =
        shell === 'fish'
          ? text
              .split('\n')
              .filter((l) => l.includes(`__fish_seen_subcommand_from ${cmd.name}'`))
              .join('\n')
          : text.slice(
              text.indexOf(`\n    ${cmd.name})\n`),
              text.indexOf('\n      ;;', text.indexOf(`\n    ${cmd.name})\n`)),
            );
      for (const o of cmd.options) {
        const long = shell === 'fish' ? `-l ${o.name}` : `--${o.name}`;
        assert.ok(part.includes(long), `${shell} ${cmd.name}: ${long}`);
        if (o.short !== undefined) {
          const short = shell === 'fish' ? `-s ${o.short}` : `-${o.short}`;
          assert.ok(part.includes(short), `${shell} ${cmd.name}: ${short}`);
        }
      }
    }
  }
});

test('bash completes commands, options and their values', async (t) => {
  if (!requireComponents(t, 'bash')) return;
  const dir = await tempDir('distill-completion-');
  const file = join(dir, 'distill.bash');
  await writeFile(file, await script('bash'));
  const complete = (...words: string[]) =>
    execFileSync(
      'bash',
      [
        '-c',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a bash script, not a template
        'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _distill; printf "%s\\n" "${COMPREPLY[@]}"',
        'bash',
        file,
        'distill',
        ...words,
      ],
      { encoding: 'utf8' },
    )
      .split('\n')
      .filter(Boolean);
  assert.deepEqual(complete('b'), ['build', 'base']);
  assert.deepEqual(complete('build', '--no'), [
    '--node',
    '--no-build',
    '--no-prune',
    '--no-init',
    '--no-strip',
    '--node-mirror',
  ]);
  assert.deepEqual(complete('build', '--lo'), ['--load']);
  assert.deepEqual(complete('inspect', 'x', '--format', ''), ['text', 'markdown', 'json', 'html']);
  assert.deepEqual(complete('build', '--format', '=', 'j'), ['json'], '--format=j');
  assert.deepEqual(complete('base', 'node'), ['nodejs22', 'nodejs24', 'nodejs26']);
  assert.deepEqual(complete('completion', ''), ['bash', 'zsh', 'fish']);
  assert.deepEqual(complete('help', 'c'), ['compare', 'copy', 'cache', 'completion']);
  assert.deepEqual(complete('build', '--node', ''), [], 'a version: nothing to offer');
});

test('fish completes from its script; zsh parses and loads its own', async (t) => {
  if (!requireComponents(t, 'fish', 'zsh')) return;
  const dir = await tempDir('distill-completion-');
  const fish = join(dir, 'distill.fish');
  await writeFile(fish, await script('fish'));
  const complete = (line: string) =>
    execFileSync('fish', ['-c', `source ${fish}; complete -C '${line}'`], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t')[0]);
  assert.deepEqual(complete('distill build --no'), [
    '--node',
    '--node-mirror',
    '--no-build',
    '--no-init',
    '--no-prune',
    '--no-strip',
  ]);
  assert.deepEqual(complete('distill inspect x --format ').sort(), ['html', 'json', 'markdown', 'text']);
  assert.ok(complete('distill co').includes('compare'));
  const zsh = join(dir, '_distill');
  await writeFile(zsh, await script('zsh'));
  execFileSync('zsh', ['-n', zsh]);
  const loaded = execFileSync(
    'zsh',
    [
      '-f',
      '-c',
      `autoload -U compinit && compinit -u -d ${join(dir, 'zcompdump')} && source ${zsh} && print $_comps[distill]`,
    ],
    { encoding: 'utf8' },
  );
  assert.equal(loaded.trim(), '_distill', 'compdef registered _distill for distill');
});
