/**
 * The command line, declared: each command is one table of its options, and that table alone
 * drives parsing (argv.ts), the command's `--help` and the global help (help.ts), shell
 * completion (completion.ts) and docs/CLI.md (scripts/cli-docs.ts). Adding an option is adding
 * one entry; its parsed value is typed from the entry (Values).
 */

/** What a shell may offer for a value: file names, directory names, or a fixed list of words. */
export type Completion = 'file' | 'dir' | readonly string[];

export interface OptionSpec {
  /** The long name, without `--`. */
  readonly name: string;
  /** One letter, without `-`. */
  readonly short?: string;
  readonly type: 'string' | 'boolean';
  /** Given more than once, every value is kept (else a second one is a usage error). */
  readonly repeatable?: boolean;
  /** The value's name in help, e.g. `REF` (string options). */
  readonly value?: string;
  /** One sentence for `--help`; "(repeatable)" is added by the help itself. */
  readonly description: string;
  /** The heading the option is listed under in `--help` (default "Options"). */
  readonly group?: string;
  readonly complete?: Completion;
}

export interface PositionalSpec {
  /** As shown in the synopsis, e.g. `[DIR]`, `REF REF...`. */
  readonly name: string;
  readonly complete?: Completion;
}

/** What a command's module exports: its handler. */
export interface CommandModule {
  run(call: Call): Promise<number>;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for the global help. */
  readonly summary: string;
  readonly positionals?: PositionalSpec;
  /** Paragraphs for the command's own help, each wrapped when printed. */
  readonly description: readonly string[];
  readonly options: readonly OptionSpec[];
  /** Two or three command lines, each with what it does. */
  readonly examples: readonly (readonly [command: string, what: string])[];
  /** The handler, loaded only when the command runs (start-up time is most of a warm build). */
  load(): Promise<CommandModule>;
}

type ValueOf<O extends OptionSpec> = O extends { type: 'boolean' }
  ? boolean
  : O extends { repeatable: true }
    ? string[]
    : string;

/** Parsed values when the table is not known. */
export type AnyValues = Record<string, string | boolean | string[] | undefined>;

/** The parsed values of a table of options, keyed by long name; absent when not given. */
export type Values<T extends readonly OptionSpec[]> = { [O in T[number] as O['name']]?: ValueOf<O> };

/** What a handler gets: the parsed command line and where to print (see output.ts). */
export interface Call<V = AnyValues> {
  command: string;
  values: V;
  positionals: string[];
  env: NodeJS.ProcessEnv;
  /** Writes to stdout, waiting until it is taken; throws PipeClosed when the reader went away. */
  print(text: string): Promise<void>;
  /** Writes pieces to stdout one at a time, stopping as soon as the reader goes away. */
  printPieces(pieces: Iterable<string>): Promise<void>;
  /** For stderr (progress, warnings). */
  stderr: NodeJS.WritableStream;
}

/** Options most commands take, declared once; a command lists the ones it takes. */
export const COMMON = {
  format: {
    name: 'format',
    type: 'string',
    value: 'text|json',
    description: 'what stdout gets: text for people, json for scripts',
    group: 'Common options',
    complete: ['text', 'json'],
  },
  platform: {
    name: 'platform',
    type: 'string',
    value: 'OS/ARCH[/VARIANT]|all',
    description:
      "which image of a multi-platform index (default: all, or the host's when the destination holds one image)",
    group: 'Common options',
    complete: ['linux/amd64', 'linux/arm64', 'all'],
  },
  creds: {
    name: 'creds',
    type: 'string',
    value: 'USER:PASS',
    description: 'registry credentials (else ~/.docker/config.json)',
    group: 'Common options',
  },
  insecure: {
    name: 'insecure',
    type: 'boolean',
    description: 'allow plain HTTP to a registry that is not on loopback',
    group: 'Common options',
  },
  quiet: {
    name: 'quiet',
    short: 'q',
    type: 'boolean',
    description: 'no progress on stderr',
    group: 'Common options',
  },
  help: {
    name: 'help',
    short: 'h',
    type: 'boolean',
    description: "this command's help",
    group: 'Common options',
  },
} as const satisfies Record<string, OptionSpec>;

/** The option of a command with this long name. */
export function findOption(spec: CommandSpec, name: string): OptionSpec | undefined {
  return spec.options.find((o) => o.name === name);
}

/** The option of a command with this one-letter name. */
export function findShort(spec: CommandSpec, letter: string): OptionSpec | undefined {
  return spec.options.find((o) => o.short === letter);
}
