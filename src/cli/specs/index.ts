import type { CommandSpec } from '../spec.js';
import { BASE, LOCK } from './base.js';
import { BUILD } from './build.js';
import { DEBUG } from './debug.js';
import { COMPARE, INSPECT } from './inspect.js';
import { ATTESTATIONS, CACHE, COMPLETION, COPY, DIGEST } from './media.js';
import { SBOM } from './sbom.js';
import { SIGN, VERIFY } from './sign.js';

/** Every command, in the order the global help lists them. */
export const COMMANDS: readonly CommandSpec[] = [
  BUILD,
  BASE,
  LOCK,
  INSPECT,
  COMPARE,
  SBOM,
  COPY,
  DEBUG,
  DIGEST,
  ATTESTATIONS,
  SIGN,
  VERIFY,
  CACHE,
  COMPLETION,
];

export function findCommand(name: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === name);
}
