/**
 * The modes distill gives what it creates, in the store and in outputs. `open(2)` and `mkdir(2)`
 * mask the mode they are given with the umask, so passing these everywhere (Node's defaults are
 * 0o666 and 0o777) keeps every path at most 0o644 / 0o755 even under `umask 000`: never group-
 * or world-writable. A stricter umask (077) still narrows them.
 */
export const FILE_MODE = 0o644;
export const EXEC_MODE = 0o755;
export const DIR_MODE = 0o755;

/** A file's mode from an archive, without group/world write bits and without set-id bits. */
export function safeFileMode(mode: number | undefined): number {
  return (mode ?? FILE_MODE) & 0o755;
}
