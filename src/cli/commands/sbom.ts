import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DistillError, wrapError } from '../../errors.js';
import { inspect } from '../../inspect/api.js';
import { writeFileAtomic } from '../../media/layout/write.js';
import { parsePlatform } from '../../oci/platform.js';
import { packageRoot } from '../../package-root.js';
import { sbomFromFacts } from '../../sbom/image.js';
import type { Sbom } from '../../sbom/model.js';
import { parseSbomFormat, sbomPieces } from '../../sbom/write.js';
import { attachedSbom } from '../attest.js';
import { context } from '../context.js';
import { holdMemory, type MemoryHold } from '../heap.js';
import type { Call, Values } from '../spec.js';
import type { SBOM_OPTIONS } from '../specs/sbom.js';

/** `distill sbom REF`: the inspect facts of the merged filesystem, with package details, as an SBOM. */
export async function run(call: Call<Values<typeof SBOM_OPTIONS>>): Promise<number> {
  const v = call.values;
  const format = parseSbomFormat(v.format ?? 'spdx-json');
  const ref = call.positionals.length === 1 ? call.positionals[0]! : undefined;
  if (ref === undefined) {
    throw new DistillError(
      'USAGE',
      'sbom takes one image: distill sbom REF [--format spdx-json|cyclonedx-json] [-o FILE]',
    );
  }
  const c = await context(call);
  if (v.attached) return writeSbom(call, await attachedSbom(ref, v.platform, format, c.media('src')));
  const pkg = JSON.parse(await readFile(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  // As inspect does (cli/commands/inspect.ts): the tree is held to the end, garbage made fast.
  const hold = holdMemory(4 * 2 ** 20);
  try {
    const sbom = await imageSbom(call, c, ref, hold, pkg.version);
    // Written as it is made (SPDX): the document of a large image is never whole in memory.
    return await writeSbom(call, sbomPieces(sbom, format));
  } finally {
    hold.release();
  }
}

/**
 * The SBOM of the image's merged filesystem. Its own function so that the facts it is made from
 * (every package's details, the hidden lockfiles) can be collected before the document is written.
 */
async function imageSbom(
  call: Call<Values<typeof SBOM_OPTIONS>>,
  c: Awaited<ReturnType<typeof context>>,
  ref: string,
  hold: MemoryHold,
  version: string,
): Promise<Sbom> {
  const v = call.values;
  const facts = await inspect(ref, {
    media: { ...c.media('src'), store: c.store, progress: c.reporter },
    ...(v.platform !== undefined && { platform: parsePlatform(v.platform) }),
    onLayerChunk: hold.chunk,
    packageDetails: true,
    step: (m: string) => c.reporter.step?.(m),
  });
  c.reporter.done();
  if (v.quiet !== true) for (const w of facts.warnings) call.stderr.write(`warning: ${w}\n`);
  return sbomFromFacts(facts, { name: ref, tool: { name: 'distill', version } });
}

/** The SBOM to -o FILE (whole or not at all), else stdout. */
async function writeSbom(
  call: Call<Values<typeof SBOM_OPTIONS>>,
  text: string | Iterable<string>,
): Promise<number> {
  const v = call.values;
  const pieces = typeof text === 'string' ? [text] : text;
  if (v.output === undefined) {
    // A document read back whole (--attached) ends with a newline on a terminal, as before.
    await (typeof text === 'string' ? call.print(text) : call.printPieces(pieces));
    return 0;
  }
  try {
    await writeFileAtomic(v.output, pieces);
  } catch (err) {
    throw wrapError(err, `writing the SBOM to ${v.output}`);
  }
  if (v.quiet !== true) call.stderr.write(`wrote ${v.output}\n`);
  return 0;
}
