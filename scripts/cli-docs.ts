// Writes docs/CLI.md (every command's --help, exactly as distill prints it) and the global help in
// README.md between its cli-help markers. Run it after changing an option: npm run docs:cli.
// test/cli/docs.test.ts fails while either differs from what distill prints.
import { readFile, writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { run } from '../src/cli/run.js';
import { COMMANDS } from '../src/cli/specs/index.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const CLI_DOC = `${ROOT}docs/CLI.md`;
export const README = `${ROOT}README.md`;
const START = '<!-- cli-help:start (npm run docs:cli writes this block) -->';
const END = '<!-- cli-help:end -->';

/** What `distill ARGS` prints on stdout, run in this process. */
export async function printed(args: string[]): Promise<string> {
  let text = '';
  const sink = new Writable({
    write(chunk, _enc, cb) {
      text += String(chunk);
      cb();
    },
  });
  const code = await run(args, { stdout: sink, stderr: sink, env: {} });
  if (code !== 0) throw new Error(`distill ${args.join(' ')} exited ${code}: ${text}`);
  return text;
}

const block = (text: string) => `\`\`\`text\n${text.trimEnd()}\n\`\`\``;

export async function cliDoc(): Promise<string> {
  const parts = [
    '# The distill command line',
    '',
    '<!-- Written by scripts/cli-docs.ts (npm run docs:cli) from the tables in src/cli/specs; do not edit. -->',
    '',
    "Every command's help, exactly as `distill COMMAND --help` (or `distill help COMMAND`) prints it.",
    'Completion for bash, zsh and fish: `distill completion SHELL` (see below).',
    '',
    '## distill',
    '',
    block(await printed(['--help'])),
  ];
  for (const c of COMMANDS)
    parts.push('', `## distill ${c.name}`, '', block(await printed([c.name, '--help'])));
  return `${parts.join('\n')}\n`;
}

export async function readmeWithHelp(readme: string): Promise<string> {
  const start = readme.indexOf(START);
  const end = readme.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${START} ... ${END} block`);
  return `${readme.slice(0, start + START.length)}\n${block(await printed(['--help']))}\n${readme.slice(end)}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await writeFile(CLI_DOC, await cliDoc());
  await writeFile(README, await readmeWithHelp(await readFile(README, 'utf8')));
  process.stdout.write(`wrote ${CLI_DOC} and the help in ${README}\n`);
}
