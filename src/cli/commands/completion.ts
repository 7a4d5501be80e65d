import { completionScript, SHELLS, type Shell } from '../completion.js';
import { expectPositionals, usage } from '../context.js';
import type { Call } from '../spec.js';
import { COMMANDS } from '../specs/index.js';

/** `distill completion bash|zsh|fish`: the script on stdout. */
export async function run(call: Call): Promise<number> {
  const how = `completion takes the shell: distill completion ${SHELLS.join('|')}`;
  expectPositionals(call.positionals, 1, 1, how);
  const shell = call.positionals[0]!;
  if (!(SHELLS as readonly string[]).includes(shell)) throw usage(`${how}, not "${shell}"`);
  await call.print(completionScript(shell as Shell, COMMANDS));
  return 0;
}
