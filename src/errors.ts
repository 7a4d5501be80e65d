/**
 * One error class for everything distill reports. `code` is stable (tests and scripts match on
 * it); `message` is one sentence for a person, saying what went wrong and what to do; `cause`
 * keeps the underlying error. `userError` separates a user's mistake (bad input, missing file,
 * wrong password: print the message, exit 1) from a bug (print the stack, ask for a report).
 */
export type ErrorCode =
  // references and arguments
  | 'REF_INVALID'
  | 'TRANSPORT_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'PLATFORM_INVALID'
  | 'PLATFORM_NOT_FOUND'
  | 'USAGE'
  // content
  | 'DIGEST_MISMATCH'
  | 'DIFF_ID_MISMATCH'
  | 'SIZE_MISMATCH'
  | 'DOCUMENT_TOO_LARGE'
  | 'NOT_REGULAR_FILE'
  | 'BLOB_MISSING'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'CONFIG_INVALID'
  | 'MEDIA_TYPE_UNSUPPORTED'
  | 'LAYER_INVALID'
  | 'ARCHIVE_INVALID'
  | 'ARCHIVE_TRUNCATED'
  | 'LAYOUT_INVALID'
  | 'TAG_NOT_FOUND'
  | 'TAG_AMBIGUOUS'
  | 'ENTRY_INVALID'
  // referrers and attestations (OCI 1.1)
  | 'REFERRERS_CONFLICT'
  | 'REFERRERS_TAG_INVALID'
  | 'REFERRERS_UNSUPPORTED'
  | 'ATTESTATION_NOT_FOUND'
  /** --attest asks for an attestation this distill cannot make. */
  | 'ATTEST_UNSUPPORTED'
  /** A signed attestation (DSSE envelope) whose signature by the key no longer verifies. */
  | 'ATTESTATION_TAMPERED'
  /** A signed attestation whose statement is about another image than the one it is attached to. */
  | 'ATTESTATION_SUBJECT_MISMATCH'
  /** `attestations --key`: the image has no signed attestation to check. */
  | 'ATTESTATION_UNSIGNED'
  // Debian packages and indexes
  | 'DEB822_INVALID'
  | 'DEB_INVALID'
  | 'DEPENDENCY_UNSATISFIABLE'
  | 'VERSION_INVALID'
  // the Node runtime (src/sources/node)
  | 'NODE_VERSION_UNKNOWN'
  | 'NODE_VERSION_CONFLICT'
  | 'NODE_INTEGRITY_MISMATCH'
  | 'NODE_PACKAGE_INVALID'
  // apt repositories
  | 'APT_SIGNATURE_INVALID'
  | 'APT_RELEASE_EXPIRED'
  | 'APT_RELEASE_INVALID'
  | 'APT_INDEX_MISSING'
  | 'APT_INDEX_HASH_MISMATCH'
  | 'APT_DEB_HASH_MISMATCH'
  | 'APT_KEY_INVALID'
  // plans, lockfiles and config files
  | 'LOCKFILE_INVALID'
  | 'CONFIG_FILE_INVALID'
  | 'PLAN_INVALID'
  // Node.js apps
  | 'APP_INVALID'
  | 'APP_CMD_UNKNOWN'
  | 'APP_ENTRY_MISSING'
  | 'APP_IMPORT_MISSING'
  | 'APP_BUILD_FAILED'
  | 'NATIVE_ADDON_INVALID'
  /** A foreign platform's native package has no route: no cross toolchain and no emulation (decision 0024). */
  | 'CROSS_TOOLCHAIN_MISSING'
  /** The package manager cannot install a foreign platform's optional packages (pnpm before 10). */
  | 'CROSS_INSTALL_UNSUPPORTED'
  | 'ELF_INVALID'
  /** A --base image whose layers hold entries that leave the image root. */
  | 'BASE_UNSAFE'
  | 'PACKAGE_MANAGER_UNKNOWN'
  // image inspection (src/inspect)
  | 'INSPECT_UNSAFE'
  /** A --deny rule needs a fact the input cannot give (a compressed size of uncompressed layers). */
  | 'FACT_UNKNOWN'
  // signatures and keys (src/sign)
  /** The image has no signature (no `sha256-<hex>.sig` attachment, or none in it). */
  | 'SIGNATURE_MISSING'
  /** No signature of the image verifies with the public key given (another key signed it). */
  | 'SIGNATURE_KEY_MISMATCH'
  /** A signature's payload is not what was signed: its bytes or its document were altered. */
  | 'SIGNATURE_TAMPERED'
  /** A signature verifies, but its payload names another image digest (one moved from elsewhere). */
  | 'SIGNATURE_DIGEST_MISMATCH'
  /** A key file that cannot be read as a key of a supported kind. */
  | 'KEY_INVALID'
  /** An encrypted key file that the password does not open. */
  | 'KEY_DECRYPT_FAILED'
  /** An encrypted key file and no password (COSIGN_PASSWORD or a terminal to ask on). */
  | 'KEY_PASSWORD_REQUIRED'
  /** A key file that would be overwritten. */
  | 'KEY_EXISTS'
  // I/O and remote
  | 'NOT_FOUND'
  | 'IO'
  | 'NETWORK'
  | 'HTTP'
  | 'AUTH_FAILED'
  | 'AUTH_DENIED'
  | 'INSECURE_REFUSED'
  | 'REGISTRY'
  | 'DAEMON_UNAVAILABLE'
  | 'DAEMON_HOST_INVALID'
  | 'DAEMON_TLS'
  | 'DAEMON'
  | 'CREDENTIAL_HELPER'
  // distill debug: the container to attach to
  | 'CONTAINER_NOT_FOUND'
  | 'CONTAINER_NOT_RUNNING'
  /** --inspect on a container with no node process. */
  | 'NODE_NOT_RUNNING'
  | 'STORE'
  /** A blob of a remote cache entry, left there at the hit, that could not be brought in when read. */
  | 'CACHE_BLOB_UNAVAILABLE'
  // an operation stopped through its AbortSignal
  | 'ABORTED'
  | 'INTERNAL';

export class DistillError extends Error {
  readonly code: ErrorCode;
  readonly userError: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; userError?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DistillError';
    this.code = code;
    this.userError = options.userError ?? code !== 'INTERNAL';
  }
}

/** Wraps any error with what was being done, keeping a DistillError's code. */
export function wrapError(err: unknown, doing: string): DistillError {
  if (err instanceof DistillError) {
    const wrapped = new DistillError(err.code, `${doing}: ${err.message}`, {
      cause: err,
      userError: err.userError,
    });
    return wrapped;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string') {
    if (e.code === 'ENOENT') return new DistillError('NOT_FOUND', `${doing}: ${e.message}`, { cause: err });
    if (['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(e.code)) {
      return new DistillError('NETWORK', `${doing}: ${e.message}`, { cause: err });
    }
    return new DistillError('IO', `${doing}: ${e.message}`, { cause: err });
  }
  return new DistillError('INTERNAL', `${doing}: ${e instanceof Error ? e.message : String(err)}`, {
    cause: err,
    userError: false,
  });
}

export function isDistillError(err: unknown, code?: ErrorCode): err is DistillError {
  return err instanceof DistillError && (code === undefined || err.code === code);
}

/**
 * Throws ABORTED when `signal` has been aborted (its reason kept as the cause): long operations
 * call it between their steps, so that an abort stops them at the next one.
 */
export function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** The error an aborted operation rejects with: ABORTED, or the signal's reason when that is one. */
export function abortError(signal: AbortSignal): DistillError {
  const reason: unknown = signal.reason;
  if (reason instanceof DistillError && reason.code === 'ABORTED') return reason;
  return new DistillError(
    'ABORTED',
    `stopped: ${reason instanceof Error ? reason.message : String(reason)}`,
    {
      cause: reason,
    },
  );
}
