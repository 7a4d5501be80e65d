/**
 * Runs one media operation in a child process and prints its outcome as one JSON line: for
 * tests of hostile inputs that could hang (a FIFO where a blob should be) or crash the process
 * (an unhandled 'error' event), which must not take the test runner with them.
 *
 *   node --import tsx test/helpers/media-child.ts inspect REF
 *   node --import tsx test/helpers/media-child.ts copy SRC DST
 *   node --import tsx test/helpers/media-child.ts store-open CACHE DIGEST
 *   node --import tsx test/helpers/media-child.ts store-read CACHE DIGEST
 *
 * Prints {"ok":true,...} or {"ok":false,"code":...,"message":...}; exits 0 either way, so a
 * non-zero exit or anything on stderr means the operation escaped its error handling.
 */
import { isDistillError } from '../../src/errors.js';
import { inspectImage } from '../../src/inspect/index.js';
import { copyImage } from '../../src/media/copy.js';
import { openArtifact } from '../../src/media/index.js';
import type { Digest } from '../../src/oci/digest.js';
import { parseImageRef } from '../../src/ref/transport.js';
import { Store } from '../../src/store/store.js';

async function main(op: string, args: string[]): Promise<Record<string, unknown>> {
  switch (op) {
    case 'inspect': {
      const artifact = await openArtifact(parseImageRef(args[0]!));
      if (artifact.kind !== 'image') throw new Error('inspect: give an image, not an index');
      const facts = await inspectImage(artifact);
      return { layers: facts.layers.length };
    }
    case 'copy': {
      const r = await copyImage(parseImageRef(args[0]!), parseImageRef(args[1]!));
      return { digest: r.destination.digest };
    }
    case 'store-open': {
      let n = 0;
      for await (const c of await new Store(args[0]!).open(args[1]! as Digest)) n += (c as Buffer).length;
      return { bytes: n };
    }
    case 'store-read':
      return { bytes: (await new Store(args[0]!).readBytes(args[1]! as Digest)).length };
    default:
      throw new Error(`unknown operation ${op}`);
  }
}

const [op, ...args] = process.argv.slice(2);
try {
  process.stdout.write(`${JSON.stringify({ ok: true, ...(await main(op!, args)) })}\n`);
} catch (err) {
  const code = isDistillError(err) ? err.code : `not a DistillError: ${(err as Error)?.name}`;
  process.stdout.write(`${JSON.stringify({ ok: false, code, message: (err as Error)?.message })}\n`);
}
