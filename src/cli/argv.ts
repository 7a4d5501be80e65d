import { parseArgs } from 'node:util';
import { DistillError } from '../errors.js';
import type { AnyValues, CommandSpec, OptionSpec } from './spec.js';
import { unknownOption } from './suggest.js';

export interface Parsed {
  values: AnyValues;
  positionals: string[];
  /** -h or --help was given (the rest is not checked then). */
  help: boolean;
}

function usage(message: string): DistillError {
  return new DistillError('USAGE', message);
}

function optionLabel(o: OptionSpec): string {
  return `--${o.name}${o.value !== undefined ? ` ${o.value}` : ''}`;
}

/**
 * Parses a command's arguments against its table. node:util's parseArgs splits the words
 * (`--name=value`, `-abc`, `-ovalue`, `--`), in its lenient mode so that every mistake is
 * reported here, in our words: an unknown option with what it is close to, a missing value, a
 * value given to a flag, an option given twice that takes one value.
 */
export function parseCommandLine(cmd: CommandSpec, args: string[], all: readonly CommandSpec[]): Parsed {
  const options = Object.fromEntries(
    cmd.options.map((o) => [
      o.name,
      { type: o.type, ...(o.short !== undefined && { short: o.short }), multiple: o.repeatable === true },
    ]),
  );
  let tokens: ReturnType<typeof parseArgs>['tokens'];
  try {
    tokens = parseArgs({ args, options, strict: false, allowPositionals: true, tokens: true }).tokens;
  } catch (err) {
    // Lenient parsing throws only on a malformed table: that is a bug, not a user's mistake.
    throw new DistillError('INTERNAL', `parsing the options of ${cmd.name}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const byName = new Map(cmd.options.map((o) => [o.name, o]));
  const help = tokens.some((t) => t.kind === 'option' && t.name === 'help');
  const values: Record<string, string | boolean | string[]> = {};
  const positionals: string[] = [];
  if (help) return { values, positionals, help };
  for (const t of tokens) {
    if (t.kind === 'positional') positionals.push(t.value);
    if (t.kind !== 'option') continue;
    const o = byName.get(t.name);
    if (o === undefined) throw usage(unknownOption(cmd, t.rawName, all));
    if (o.type === 'boolean') {
      if (t.value !== undefined) throw usage(`${t.rawName} takes no value (given "${t.value}")`);
      values[o.name] = true;
      continue;
    }
    if (t.value === undefined || (!t.inlineValue && isOption(t.value, cmd))) {
      const next = t.value === undefined ? 'nothing' : `the option ${t.value}`;
      throw usage(`${t.rawName} needs a value (${optionLabel(o)}), but ${next} follows it`);
    }
    if (o.repeatable) {
      const list = (values[o.name] as string[] | undefined) ?? [];
      list.push(t.value);
      values[o.name] = list;
    } else if (values[o.name] !== undefined) {
      throw usage(`--${o.name} is given twice ("${values[o.name]}" and "${t.value}"); it takes one value`);
    } else {
      values[o.name] = t.value;
    }
  }
  return { values, positionals, help };
}

/** A word that is one of the command's own options: taking it as a value hides a mistake. */
function isOption(word: string, cmd: CommandSpec): boolean {
  if (word.startsWith('--')) {
    const name = word.slice(2).split('=')[0]!;
    return cmd.options.some((o) => o.name === name);
  }
  return /^-[A-Za-z]$/.test(word) && cmd.options.some((o) => o.short === word.slice(1));
}
