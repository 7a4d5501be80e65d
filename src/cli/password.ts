import { DistillError } from '../errors.js';
import type { PasswordSource } from '../sign/index.js';

/**
 * The password of an encrypted key, as cosign finds it: COSIGN_PASSWORD when it is set (even
 * empty: cosign's keys may have an empty password), else asked on the terminal without echo.
 * Without either there is no source, and a command that needs one says to set COSIGN_PASSWORD.
 */
export function passwordSource(
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream,
  opts: { confirm?: boolean } = {},
): PasswordSource | undefined {
  const fromEnv = env.COSIGN_PASSWORD;
  if (fromEnv !== undefined) return async () => fromEnv;
  if (!process.stdin.isTTY) return undefined;
  return async () => {
    const first = await readHidden(
      opts.confirm ? 'Password for the new private key: ' : 'Password for the private key: ',
      stderr,
    );
    if (opts.confirm && (await readHidden('Again: ', stderr)) !== first) {
      throw new DistillError('USAGE', 'the two passwords differ; run the command again');
    }
    return first;
  };
}

/** Reads a line from the terminal in raw mode, echoing nothing; Ctrl-C stops the command. */
function readHidden(question: string, stderr: NodeJS.WritableStream): Promise<string> {
  const stdin = process.stdin;
  // Echo off before the question shows: an answer typed (or pasted) at once must not be echoed.
  stdin.setRawMode(true);
  stdin.resume();
  stderr.write(question);
  return new Promise((resolve, reject) => {
    let chars: string[] = [];
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
    };
    const onData = (buf: Buffer): void => {
      for (const ch of buf.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          finish();
          resolve(chars.join(''));
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          finish();
          reject(new DistillError('ABORTED', 'stopped at the password prompt'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') chars = chars.slice(0, -1);
        else chars.push(ch);
      }
    };
    stdin.on('data', onData);
  });
}
