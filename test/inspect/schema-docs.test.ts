import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { SCHEMA_FILES } from '../../scripts/write-schemas.js';

test('the published schemas in docs/schemas are the code’s, and valid JSON Schema 2020-12', async () => {
  for (const [name, schema] of Object.entries(SCHEMA_FILES)) {
    const text = await readFile(new URL(`../../docs/schemas/${name}`, import.meta.url), 'utf8');
    assert.deepEqual(JSON.parse(text), schema, `docs/schemas/${name} is stale: run scripts/write-schemas.ts`);
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    assert.doesNotThrow(() => ajv.compile(schema), name);
  }
});
