import { parseArgs } from 'node:util';

/**
 * `fastify start` (fastify-cli) as the image's command: where it listens, read from its command
 * line the way fastify-cli 8 reads it (args.js, lib/parse-args.js, start.js):
 * - the port: `-p`/`--port`, else `FASTIFY_PORT` (every option falls back to `FASTIFY_<NAME>`),
 *   else `PORT`, else 3000;
 * - the address: `-a`/`--address` (or `FASTIFY_ADDRESS`); else `-s`/`--socket` (or
 *   `FASTIFY_SOCKET`), a unix socket and no port; else 0.0.0.0 when it believes it runs in Docker
 *   (`/.dockerenv`, a cgroup or mount naming docker) or Kubernetes (`KUBERNETES_SERVICE_HOST`),
 *   and localhost everywhere else: under podman, containerd or a platform that is neither, the
 *   server cannot be reached from outside its container. The image sets FASTIFY_ADDRESS=0.0.0.0
 *   so that it listens the same under every runtime (decision 0044).
 * fastify-cli also reads a `.env` file in its directory (process.loadEnvFile) and a `--config`
 * module, which may set these too; neither is run or read here.
 */

/**
 * fastify-cli's start options (name, type, short), as args.js declares them: a string option
 * takes the next word as its value, so all of them count for reading the rest right.
 */
const OPTIONS = {
  port: { type: 'string', short: 'p' },
  'inspect-port': { type: 'string' },
  'body-limit': { type: 'string' },
  'plugin-timeout': { type: 'string', short: 'T' },
  'close-grace-delay': { type: 'string', short: 'g' },
  'trust-proxy-hop': { type: 'string' },
  'log-level': { type: 'string', short: 'l' },
  address: { type: 'string', short: 'a' },
  socket: { type: 'string', short: 's' },
  prefix: { type: 'string', short: 'x' },
  'ignore-watch': { type: 'string' },
  'logging-module': { type: 'string', short: 'L' },
  'debug-host': { type: 'string' },
  lang: { type: 'string' },
  require: { type: 'string', short: 'r' },
  import: { type: 'string', short: 'i' },
  config: { type: 'string', short: 'c' },
  method: { type: 'string' },
  'trust-proxy-ips': { type: 'string' },
  'follow-watch': { type: 'string' },
  'pretty-logs': { type: 'boolean', short: 'P' },
  options: { type: 'boolean', short: 'o' },
  watch: { type: 'boolean', short: 'w' },
  'verbose-watch': { type: 'boolean', short: 'V' },
  debug: { type: 'boolean', short: 'd' },
  standardlint: { type: 'boolean' },
  'common-prefix': { type: 'boolean' },
  'include-hooks': { type: 'boolean' },
  'trust-proxy-enabled': { type: 'boolean' },
  yaml: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  'debug-port': { type: 'string', short: 'I' },
} as const;

const BOOLEAN_VALUES = new Set(['true', 'false', '1', '0']);

/** What `fastify start ...` says about where it listens; undefined when the words are not `fastify start`. */
export interface FastifyStart {
  /** `-p`/`--port` as written. */
  port?: string;
  address?: string;
  socket?: string;
  /** `-c`/`--config`: a module that may set the port or address too. */
  config?: string;
}

const kebab = (s: string) => s.replace(/([A-Z])/g, '-$1').toLowerCase();

/**
 * The options of `fastify start` in `words` (the whole command: `fastify start -l info app.js`),
 * parsed with node's util.parseArgs as fastify-cli does (non-strict: unknown options pass; a
 * boolean option may be followed by true/false; `--logLevel` is `--log-level`).
 */
export function fastifyStartOptions(words: readonly string[]): FastifyStart | undefined {
  if (words[0] !== 'fastify' || words[1] !== 'start') return undefined;
  const args: string[] = [];
  const rest = words.slice(2);
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (w === '--') break; // the app's own options from here
    if (!w.startsWith('--')) {
      args.push(w);
      continue;
    }
    const eq = w.indexOf('=');
    const name = kebab(w.slice(2, eq < 0 ? undefined : eq));
    args.push(`--${name}${eq < 0 ? '' : w.slice(eq)}`);
    const isBool = eq < 0 && OPTIONS[name as keyof typeof OPTIONS]?.type === 'boolean';
    if (isBool && BOOLEAN_VALUES.has(rest[i + 1] ?? '')) i++;
  }
  const { values } = parseArgs({ args, options: OPTIONS, strict: false, allowPositionals: true });
  const last = (v: unknown): string | undefined =>
    typeof v === 'string' ? v : Array.isArray(v) ? (v.at(-1) as string | undefined) : undefined;
  const out: FastifyStart = {};
  for (const k of ['port', 'address', 'socket', 'config'] as const) {
    const v = last(values[k]);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

const LOOPBACK = /^(?:localhost|127(?:\.\d{1,3}){3}|::1|\[::1\])$/i;

/** Where `fastify start` listens in the image: the port to expose, the environment to add, and warnings. */
export function fastifyListen(
  start: FastifyStart,
  env: readonly string[],
): { port?: string; env: string[]; warnings: string[] } {
  const vars = new Map<string, string>();
  for (const e of env) {
    const eq = e.indexOf('=');
    if (eq > 0) vars.set(e.slice(0, eq), e.slice(eq + 1));
  }
  const warnings: string[] = [];
  const socket = start.socket ?? vars.get('FASTIFY_SOCKET');
  const address = start.address ?? vars.get('FASTIFY_ADDRESS');
  if (address !== undefined && LOOPBACK.test(address)) {
    warnings.push(
      `fastify start listens on ${address} (${start.address !== undefined ? '-a in the command' : 'FASTIFY_ADDRESS'}), which nothing outside the container can reach: use -a 0.0.0.0 in scripts.start, or pass -e FASTIFY_ADDRESS=0.0.0.0 when it is not set in the command`,
    );
  }
  if (start.config !== undefined) {
    warnings.push(
      `fastify start reads --config ${start.config}, which distill does not run: a port or address it sets is not in the image's EXPOSE; pass -p PORT to distill build to say the port`,
    );
  }
  if (socket !== undefined && address === undefined) {
    return { env: [], warnings };
  }
  const addEnv = address === undefined ? ['FASTIFY_ADDRESS=0.0.0.0'] : [];
  const port: [string, string] | undefined =
    start.port !== undefined
      ? [start.port, '-p in the command']
      : vars.has('FASTIFY_PORT')
        ? [vars.get('FASTIFY_PORT')!, 'FASTIFY_PORT']
        : vars.has('PORT')
          ? [vars.get('PORT')!, 'PORT']
          : undefined;
  if (port === undefined) return { port: '3000', env: addEnv, warnings };
  if (!/^\d+$/.test(port[0]) || Number(port[0]) > 65535) {
    warnings.push(
      `fastify start's port "${port[0]}" (${port[1]}) is not a port number; the image exposes none`,
    );
    return { env: addEnv, warnings };
  }
  return { port: String(Number(port[0])), env: addEnv, warnings };
}
