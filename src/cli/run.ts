import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError } from '../errors.js';
import { packageRoot } from '../package-root.js';
import { parseCommandLine } from './argv.js';
import { ExitWith } from './context.js';
import { commandHelp, globalHelp } from './help.js';
import { PIPE_CLOSED_STATUS, PipeClosed, printer } from './output.js';
import type { CommandSpec } from './spec.js';
import { COMMANDS, findCommand } from './specs/index.js';
import { unknownCommand } from './suggest.js';

/**
 * The command line. This is the only code that reads argv, prints, or decides exit codes:
 * 0 success, 1 failure (a user's mistake prints one sentence; a bug prints a stack and asks for
 * a report), 2 usage error, 3 a --deny rule broken, 141 stdout closed early. Each command is a
 * table of options (specs/) and a handler (commands/), loaded only when it runs.
 */
export interface Io {
  stdout: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export async function run(argv: string[], io: Io): Promise<number> {
  const out = printer(io.stdout);
  const [command, ...rest] = argv;
  let cmd: CommandSpec | undefined;
  try {
    if (command === undefined || command === '-h' || command === '--help') {
      await out.print(globalHelp(COMMANDS));
      return command === undefined ? 2 : 0;
    }
    if (command === '--version' || command === 'version') {
      const pkg = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as {
        version: string;
      };
      await out.print(pkg.version);
      return 0;
    }
    if (command === 'help') return await help(rest, out.print);
    cmd = findCommand(command);
    if (cmd === undefined) {
      throw new DistillError(
        'USAGE',
        command.startsWith('-')
          ? `options come after the command (distill <command> [options]); ${command} is not a command`
          : unknownCommand(command, COMMANDS),
      );
    }
    const parsed = parseCommandLine(cmd, rest, COMMANDS);
    if (parsed.help) {
      await out.print(commandHelp(cmd));
      return 0;
    }
    const mod = await cmd.load();
    return await mod.run({
      command: cmd.name,
      values: parsed.values,
      positionals: parsed.positionals,
      env: io.env,
      print: out.print,
      printPieces: out.printPieces,
      stderr: io.stderr,
    });
  } catch (err) {
    return report(err, io, cmd);
  }
}

/** `distill help [COMMAND]`: the same text as `distill COMMAND --help`. */
async function help(rest: string[], print: (text: string) => Promise<void>): Promise<number> {
  const [name, ...more] = rest;
  if (name === undefined) {
    await print(globalHelp(COMMANDS));
    return 0;
  }
  const cmd = findCommand(name);
  if (cmd === undefined) throw new DistillError('USAGE', unknownCommand(name, COMMANDS));
  if (more.length > 0) throw new DistillError('USAGE', 'help takes one command: distill help COMMAND');
  await print(commandHelp(cmd));
  return 0;
}

/** Errors that mean the command line was wrong: exit 2, with where to read how to call it. */
const USAGE_CODES = new Set([
  'USAGE',
  'REF_INVALID',
  'TRANSPORT_UNKNOWN',
  'PLATFORM_INVALID',
  'DIGEST_INVALID',
]);

function report(err: unknown, io: Io, cmd: CommandSpec | undefined): number {
  if (err instanceof ExitWith) {
    const code = report(err.error, io, cmd);
    return code === PIPE_CLOSED_STATUS ? code : err.status;
  }
  const write = (text: string) => io.stderr.write(`${text}\n`);
  // The reader of stdout went away: nothing more to say to anyone (see output.ts).
  if (err instanceof PipeClosed) return PIPE_CLOSED_STATUS;
  if (err instanceof DistillError && err.userError) {
    if (USAGE_CODES.has(err.code)) {
      const name = cmd ? `distill ${cmd.name}` : 'distill';
      write(
        `${name}: ${err.message}\nRun "${name} --help" for ${cmd ? 'its options and examples' : 'usage'}.`,
      );
      return 2;
    }
    write(`distill: ${err.message}`);
    if (io.env.DISTILL_DEBUG) write(String(err.stack));
    return 1;
  }
  const e = err as Error;
  write(
    `distill: internal error: ${e?.message ?? String(err)}\n${e?.stack ?? ''}\nThis is a bug in distill; please report it with the command you ran and this output.`,
  );
  return 1;
}
