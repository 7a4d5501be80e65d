import { DistillError } from '../errors.js';
import { cyclonedxPieces } from './cyclonedx.js';
import { SBOM_FORMATS, type Sbom, type SbomFormat } from './model.js';
import { spdxPieces } from './spdx.js';

/** An SBOM as the text of a document in `format`. */
export function formatSbom(sbom: Sbom, format: SbomFormat): string {
  return [...sbomPieces(sbom, format)].join('');
}

/**
 * The text of the document in pieces, to be written one after another: both formats are made as
 * they are written, so a large image's document is never whole in memory.
 */
export function sbomPieces(sbom: Sbom, format: SbomFormat): Iterable<string> {
  checkSbom(sbom);
  if (format === 'spdx-json') return spdxPieces(sbom);
  if (format === 'cyclonedx-json') return cyclonedxPieces(sbom);
  throw new DistillError(
    'USAGE',
    `SBOM format "${String(format)}" is not known; use ${SBOM_FORMATS.join(' or ')}`,
  );
}

/** The model's own promises: one root among the components, ids unique. */
function checkSbom(sbom: Sbom): void {
  const ids = new Set<string>();
  for (const c of sbom.components) {
    if (ids.has(c.id))
      throw new DistillError('INTERNAL', `two SBOM components have the id ${JSON.stringify(c.id)}`, {
        userError: false,
      });
    ids.add(c.id);
  }
  if (!ids.has(sbom.root))
    throw new DistillError('INTERNAL', 'the SBOM root is not among its components', { userError: false });
}

/** `--format` of `distill sbom`: spdx-json or cyclonedx-json (`spdx`, `cyclonedx` for short). */
export function parseSbomFormat(text: string): SbomFormat {
  const t = text.toLowerCase();
  if (t === 'spdx' || t === 'spdx-json') return 'spdx-json';
  if (t === 'cyclonedx' || t === 'cyclonedx-json' || t === 'cdx') return 'cyclonedx-json';
  throw new DistillError('USAGE', `SBOM format "${text}" is not known; use spdx-json or cyclonedx-json`);
}
