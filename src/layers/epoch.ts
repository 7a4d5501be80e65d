import { DistillError } from '../errors.js';
import { hostEnv } from '../host.js';

/**
 * SOURCE_DATE_EPOCH (https://reproducible-builds.org/specs/source-date-epoch/), read in one
 * place: a decimal count of seconds since 1970, surrounding spaces allowed. Every layer's mtimes
 * come from it (else 0), and `distill build` takes it for the image's `created` (else the last
 * commit's time), which is why an unset variable is told apart from 0.
 */
export function parseSourceDateEpoch(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d+$/.test(value.trim())) {
    throw new DistillError(
      'USAGE',
      `SOURCE_DATE_EPOCH=${JSON.stringify(value)} is not a whole number of seconds; set it to a time such as $(git log -1 --format=%ct), or unset it`,
    );
  }
  return Number(value.trim());
}

/** SOURCE_DATE_EPOCH of an environment, 0 when unset or empty. */
export function sourceDateEpochFromEnv(env: NodeJS.ProcessEnv = hostEnv()): number {
  return parseSourceDateEpoch(env.SOURCE_DATE_EPOCH) ?? 0;
}
