import { DistillError, type ErrorCode } from '../errors.js';
import { TarFormatError } from './tar-header.js';

/** How the readers of layers/ (decompression, tar) report a bad input. */
export interface ReadErrorOptions {
  /** What is read, for messages: `layer sha256:…`, `OCI archive x.tar` (default `layer`). */
  what?: string;
  /** The code of a corrupt input (default LAYER_INVALID). */
  code?: ErrorCode;
  /** The code of an input that ends too soon (default: `code`). */
  truncatedCode?: ErrorCode;
  /**
   * Errors of the input stream that pass unchanged (DistillErrors always do): a caller that tells
   * its own I/O errors from the input's format errors marks them.
   */
  keep?: (err: unknown) => boolean;
}

/** An input ended inside something (a header, a member, a compressed frame). */
export class TruncatedError extends Error {}

/** Messages of the decompressors that mean their input ended too soon. */
const TRUNCATED = /unexpected end|unexpected eof|truncated/i;

export class ReadErrors {
  private readonly what: string;
  private readonly code: ErrorCode;
  private readonly truncatedCode: ErrorCode;
  private readonly keep: ((err: unknown) => boolean) | undefined;

  constructor(opts: ReadErrorOptions = {}) {
    this.what = opts.what ?? 'layer';
    this.code = opts.code ?? 'LAYER_INVALID';
    this.truncatedCode = opts.truncatedCode ?? this.code;
    this.keep = opts.keep;
  }

  corrupt(detail: string, cause?: unknown): DistillError {
    return new DistillError(
      this.code,
      `${this.what} is corrupt: ${detail}`,
      cause === undefined ? {} : { cause },
    );
  }

  truncated(detail: string, cause?: unknown): DistillError {
    return new DistillError(
      this.truncatedCode,
      `${this.what} is truncated: ${detail}`,
      cause === undefined ? {} : { cause },
    );
  }

  /** Any error met while reading: DistillErrors and kept errors as they are, the rest classified. */
  wrap(err: unknown): Error {
    if (err instanceof DistillError) return err;
    if (this.keep?.(err)) return err as Error;
    const msg = err instanceof Error ? err.message : String(err);
    if (err instanceof TarFormatError) return this.corrupt(msg, err);
    const code = (err as { code?: unknown } | null)?.code;
    if (err instanceof TruncatedError || code === 'Z_BUF_ERROR' || TRUNCATED.test(msg)) {
      return this.truncated(msg, err);
    }
    return this.corrupt(msg, err);
  }
}
