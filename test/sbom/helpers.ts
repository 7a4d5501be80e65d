import assert from 'node:assert/strict';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';

/** CycloneDX 1.6 strict validation by the CycloneDX library's own validator (ajv inside). */
export async function assertValidCycloneDx(text: string): Promise<void> {
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  const errors = await validator.validate(text);
  assert.equal(errors, null, `CycloneDX validation: ${JSON.stringify(errors, null, 2)}`);
}
