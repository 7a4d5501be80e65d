/** Resolves once a write stream has released its file (closed, or never opened). */
export function closed(
  stream: NodeJS.WritableStream & { closed?: boolean; destroyed?: boolean },
): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    stream.once('close', () => resolve());
    if (!stream.destroyed) (stream as unknown as { destroy(): void }).destroy();
  });
}
