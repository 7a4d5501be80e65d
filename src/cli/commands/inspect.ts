import { context } from '../context.js';
import { holdMemory } from '../heap.js';
import { commandCompare, commandInspect, type InspectArgs } from '../inspect.js';
import type { Call, Values } from '../spec.js';
import type { COMPARE_OPTIONS, INSPECT_OPTIONS } from '../specs/inspect.js';

/** `distill inspect REF` and `distill compare REF REF...`: flags to InspectArgs, the report to stdout. */
export async function run(
  call: Call<Values<typeof INSPECT_OPTIONS> | Values<typeof COMPARE_OPTIONS>>,
): Promise<number> {
  const v = call.values as Values<typeof INSPECT_OPTIONS>;
  const args: InspectArgs = {
    ...(v.format !== undefined && { format: v.format }),
    ...(v.deny !== undefined && { deny: v.deny }),
    ...(v.files !== undefined && { files: v.files }),
    ...(v.platform !== undefined && { platform: v.platform }),
    ...(v.output !== undefined && { output: v.output }),
    ...(v.security && { security: true }),
    ...(v['security-mirror'] !== undefined && { securityMirror: v['security-mirror'] }),
  };
  const c = await context(call);
  // The tree is held to the end while garbage is made at a high rate: a young generation held at
  // 4 MB took peak RSS on bench/inspect's near-the-cap image from ~160 MB to ~130 MB in the same
  // time (2 MB saved nothing more), and the layers' dead buffers collected every 2 MB keep a
  // large file from adding ~25 MB to that (see heap.ts).
  const hold = holdMemory(4 * 2 ** 20);
  const ctx = { store: c.store, reporter: c.reporter, media: c.media('src'), onLayerChunk: hold.chunk };
  try {
    const r =
      call.command === 'inspect'
        ? await commandInspect(call.positionals, args, ctx)
        : await commandCompare(call.positionals, args, ctx);
    c.reporter.done();
    // What breaks --deny goes to stderr first: it is the verdict, even when stdout's reader left.
    if (r.denied !== '') call.stderr.write(r.denied);
    await call.printPieces(r.pieces());
    return r.exitCode;
  } finally {
    hold.release();
  }
}
