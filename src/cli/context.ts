import { DistillError } from '../errors.js';
import type { PlatformChoice } from '../media/copy.js';
import type { MediaOptions } from '../media/index.js';
import { defaultDockerConfigPath, type RegistryOptions } from '../media/registry/index.js';
import { parsePlatform } from '../oci/platform.js';
import { Store } from '../store/store.js';
import { makeReporter, type Reporter } from './progress.js';
import type { Call } from './spec.js';

/** What most handlers need besides their options: the store, progress and media options. */
export interface Context {
  store: Store;
  reporter: Reporter;
  /** Media options for reading (`src`) or writing (`dest`): registry credentials and the like. */
  media(side: 'src' | 'dest'): MediaOptions;
  /** Prints a warning on stderr and keeps it for --format json. */
  warn(message: string): void;
  warnings: string[];
}

type CommonValues = {
  quiet?: boolean;
  creds?: string;
  insecure?: boolean;
  'src-creds'?: string;
  'dest-creds'?: string;
};

/** An error reported as usual but ending the command with `status` (lock --check: 2 on any failure). */
export class ExitWith extends Error {
  constructor(
    readonly status: number,
    readonly error: unknown,
  ) {
    super(error instanceof Error ? error.message : String(error));
  }
}

export function usage(message: string): DistillError {
  return new DistillError('USAGE', message);
}

function parseCreds(s: string | undefined, flag: string): RegistryOptions['creds'] {
  if (s === undefined) return undefined;
  const i = s.indexOf(':');
  if (i <= 0) throw usage(`${flag} must be USER:PASSWORD`);
  return { username: s.slice(0, i), password: s.slice(i + 1) };
}

export async function context(call: Call<object>): Promise<Context> {
  const values = call.values as CommonValues;
  const reporter = makeReporter({ quiet: values.quiet === true, stream: call.stderr as NodeJS.WriteStream });
  // Opening the store sweeps what killed distill processes left in it (src/store/owner.ts).
  const store = await Store.open(Store.defaultRoot(call.env));
  const registryBase: RegistryOptions = {
    dockerConfigPath: defaultDockerConfigPath(call.env),
    ...(values.insecure && { insecure: true }),
  };
  const creds = parseCreds(values.creds, '--creds');
  const sides = {
    src: parseCreds(values['src-creds'], '--src-creds') ?? creds,
    dest: parseCreds(values['dest-creds'], '--dest-creds') ?? creds,
  };
  const warnings: string[] = [];
  return {
    store,
    reporter,
    media: (side) => {
      const c = sides[side];
      // The Docker engine is found in the environment the CLI was given, as the docker CLI finds it.
      return {
        store,
        progress: reporter,
        registry: { ...registryBase, ...(c && { creds: c }) },
        daemon: { env: call.env },
      };
    },
    warn: (m) => {
      warnings.push(m);
      call.stderr.write(`distill: warning: ${m}\n`);
    },
    warnings,
  };
}

/** `--format text|json` of the commands that print a result. */
export function textOrJson(s: string | undefined): 'text' | 'json' {
  if (s === undefined || s === 'text') return 'text';
  if (s === 'json') return 'json';
  throw usage(`--format must be text or json, not "${s}"`);
}

export function platformChoice(s: string | undefined): PlatformChoice | undefined {
  if (s === undefined) return undefined;
  return s === 'all' ? 'all' : parsePlatform(s);
}

/** The number of positional arguments a command takes, or a usage error saying how to call it. */
export function expectPositionals(positionals: string[], min: number, max: number, how: string): void {
  if (positionals.length < min || positionals.length > max) throw usage(how);
}
