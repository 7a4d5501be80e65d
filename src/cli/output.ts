import { wrapError } from '../errors.js';

/**
 * stdout for a command: every write waits until the stream has taken it, so that when the reader
 * goes away (`distill ... | head -1`) the next write fails with EPIPE at once and the command
 * stops there, instead of queueing the rest of a long listing in memory and dying on an
 * unhandled 'error' event with a stack trace. The command then ends quietly with status 141,
 * what a shell shows for coreutils or git killed by SIGPIPE in the same place (decision 0008).
 */
export class PipeClosed extends Error {
  constructor() {
    super('the reader of stdout went away');
    this.name = 'PipeClosed';
  }
}

/** The exit status of a command whose stdout was closed early: 128 + SIGPIPE, as the shell shows it. */
export const PIPE_CLOSED_STATUS = 141;

export interface Printer {
  /** Writes text, with a newline at its end if it has none. */
  print(text: string): Promise<void>;
  /** Writes each piece as it is made; stops making them when the reader is gone. */
  printPieces(pieces: Iterable<string>): Promise<void>;
}

function gone(err: Error): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ECONNRESET';
}

export function printer(stream: NodeJS.WritableStream): Printer {
  let closed = false;
  const write = (text: string) =>
    new Promise<void>((resolve, reject) => {
      if (closed) {
        reject(new PipeClosed());
        return;
      }
      stream.write(text, (err?: Error | null) => {
        if (!err) resolve();
        else if (gone(err)) {
          closed = true;
          reject(new PipeClosed());
        } else reject(wrapError(err, 'writing to stdout'));
      });
    });
  return {
    print: (text) => write(text.endsWith('\n') ? text : `${text}\n`),
    async printPieces(pieces) {
      for (const piece of pieces) await write(piece);
    },
  };
}
