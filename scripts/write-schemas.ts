/**
 * Writes the JSON Schemas of `distill inspect`/`compare --format json` into docs/schemas/, where
 * they are published; test/inspect/schema-docs.test.ts fails when they differ from the code's.
 *
 *   node --import tsx scripts/write-schemas.ts
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPARE_JSON_SCHEMA, FACTS_JSON_SCHEMA, FILES_JSON_SCHEMA } from '../src/inspect/schema.js';

export const SCHEMA_FILES = {
  'inspect-facts.schema.json': FACTS_JSON_SCHEMA,
  'compare.schema.json': COMPARE_JSON_SCHEMA,
  'inspect-files.schema.json': FILES_JSON_SCHEMA,
} as const;

const dir = fileURLToPath(new URL('../docs/schemas/', import.meta.url));
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const [name, schema] of Object.entries(SCHEMA_FILES)) {
    await writeFile(join(dir, name), `${JSON.stringify(schema, null, 2)}\n`);
  }
}
