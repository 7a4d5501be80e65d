import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Spec, Validation } from '@cyclonedx/cyclonedx-library';
import { PackageURL } from 'packageurl-js';
import parseSpdx from 'spdx-expression-parse';
import { inspect } from '../../src/inspect/api.js';
import { sbomFromFacts } from '../../src/sbom/image.js';
import type { Sbom } from '../../src/sbom/model.js';
import { formatSbom } from '../../src/sbom/write.js';
import { IN_CI, tempDir, which } from '../helpers/components.js';
import { libraryCycloneDx } from './cyclonedx-library.js';

/** CycloneDX 1.6 strict validation by the CycloneDX library's own validator (ajv inside). */
export async function assertValidCycloneDx(text: string): Promise<void> {
  const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot6);
  const errors = await validator.validate(text);
  assert.equal(errors, null, `CycloneDX validation: ${JSON.stringify(errors, null, 2)}`);
}

/** distill's CycloneDX writer gives the very bytes the CycloneDX library gives (decision 0032). */
export function assertLibraryCycloneDx(sbom: Sbom): void {
  assert.equal(formatSbom(sbom, 'cyclonedx-json'), libraryCycloneDx(sbom), "the CycloneDX library's bytes");
}

/**
 * The SBOM of an image as `distill sbom REF` makes it (inspect's facts with package details),
 * in process, its CycloneDX checked against the library's bytes.
 */
export async function assertImageCycloneDxIsLibrarys(ref: string): Promise<void> {
  const facts = await inspect(ref, { packageDetails: true });
  assertLibraryCycloneDx(sbomFromFacts(facts, { name: ref, tool: { name: 'distill', version: '0.0.0' } }));
}

type Json = Record<string, unknown>;

// SPDX 2.3 clause 11.1 (relationship types) and 7.24 (purposes), 7.10 (checksum algorithms).
const RELATIONSHIPS = new Set(['DESCRIBES', 'CONTAINS', 'DEPENDS_ON']);
const PURPOSES = new Set([
  'APPLICATION',
  'FRAMEWORK',
  'LIBRARY',
  'CONTAINER',
  'OPERATING-SYSTEM',
  'DEVICE',
  'FIRMWARE',
  'SOURCE',
  'ARCHIVE',
  'FILE',
  'INSTALL',
  'OTHER',
]);
const CHECKSUM_HEX: Record<string, number> = { SHA1: 40, SHA256: 64, SHA512: 128 };
const ID = /^SPDXRef-[A-Za-z0-9.-]+$/;

function licenseOk(expression: string, refs: ReadonlySet<string>, where: string): void {
  if (expression === 'NOASSERTION' || expression === 'NONE') return;
  const ids = new Set<string>();
  const walk = (n: Json) => {
    if (typeof n.license === 'string') ids.add(n.license);
    if (n.left) walk(n.left as Json);
    if (n.right) walk(n.right as Json);
  };
  walk(parseSpdx(expression) as unknown as Json);
  assert.ok(!/ (and|or|with) /.test(expression), `${where}: operators are upper case: ${expression}`);
  for (const id of ids)
    if (id.startsWith('LicenseRef-')) assert.ok(refs.has(id), `${where}: ${id} is declared`);
}

/**
 * An SPDX 2.3 JSON document checked twice:
 * - by the SPDX project's own validator, tools-python's `pyspdxtools` (Debian's
 *   python3-spdx-tools, which .ci/run installs): it parses the document as SPDX 2.3 and
 *   validates it against the spec (required fields and their types, id syntax, references that
 *   resolve, licence expressions against the SPDX licence list, checksums, purls);
 * - by the rules below, our own reading of the same spec, which also runs where pyspdxtools is
 *   absent.
 * Not the published JSON schema: no npm or Debian package carries the SPDX 2.3 schema
 * (docs/SUPPLY-CHAIN.md says where we looked).
 */
export async function assertValidSpdx(text: string): Promise<Json> {
  await assertSpdxToolsAccepts(text);
  return assertSpdxRules(text);
}

let spdxToolsNoted = false;
/** The SPDX licence ids distill's expression parser knows: the list spdx-expression-parse itself loads. */
const parserRequire = createRequire(createRequire(import.meta.url).resolve('spdx-expression-parse'));
const LISTED: ReadonlySet<string> = new Set(parserRequire('spdx-license-ids') as string[]);

/** `pyspdxtools -i FILE --version SPDX-2.3` exits 0 and prints no issue; fails under CI when absent. */
export async function assertSpdxToolsAccepts(text: string): Promise<void> {
  const tool = which('pyspdxtools');
  if (tool === undefined) {
    const reason = 'pyspdxtools (Debian python3-spdx-tools) is not on PATH; .ci/run installs it';
    if (IN_CI) throw new Error(`CI=true and SPDX validation needs ${reason}`);
    if (!spdxToolsNoted) console.log(`# SPDX documents checked by our spec rules only: ${reason}`);
    spdxToolsNoted = true;
    return;
  }
  const dir = await tempDir('distill-spdx-');
  try {
    const file = join(dir, 'sbom.spdx.json');
    await writeFile(file, text);
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
      execFile(tool, ['-i', file, '--version', 'SPDX-2.3'], { maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, output: `${stdout}${stderr}` }),
      );
    });
    if (code === 0) {
      assert.doesNotMatch(output, /invalid|issues/i, `pyspdxtools:\n${output.slice(0, 4000)}`);
      return;
    }
    // The one refusal taken: an id of the SPDX licence list distill reads (npm's
    // spdx-license-ids, newer) that the validator's copy of the list (license-expression's)
    // does not know yet, such as Artistic-dist (list 3.24).
    const issues = output
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('ERROR:root:The document is invalid'));
    const other = issues.filter((l) => {
      const id = /^Unrecognized license reference: ([A-Za-z0-9.+-]+)\./.exec(l)?.[1];
      return id === undefined || !LISTED.has(id);
    });
    assert.ok(
      issues.length > 0 && other.length === 0,
      `pyspdxtools refused the SPDX document:\n${(other.length > 0 ? other.join('\n') : output).slice(0, 4000)}`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The SPDX 2.3 JSON document's rules, as the spec states them (required fields, id syntax,
 * enumerations, references that resolve, valid licence expressions and purls).
 */
export function assertSpdxRules(text: string): Json {
  const doc = JSON.parse(text) as Json;
  assert.equal(doc.spdxVersion, 'SPDX-2.3');
  assert.equal(doc.dataLicense, 'CC0-1.0');
  assert.equal(doc.SPDXID, 'SPDXRef-DOCUMENT');
  assert.equal(typeof doc.name, 'string');
  assert.match(String(doc.documentNamespace), /^https?:\/\/[^#\s]+$/);
  const info = doc.creationInfo as Json;
  assert.match(String(info.created), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  assert.ok((info.creators as string[]).length > 0);
  for (const c of info.creators as string[]) assert.match(c, /^(Tool|Organization|Person): \S/);
  const refs = new Set(((doc.hasExtractedLicensingInfos ?? []) as Json[]).map((l) => String(l.licenseId)));
  for (const l of (doc.hasExtractedLicensingInfos ?? []) as Json[]) {
    assert.match(String(l.licenseId), /^LicenseRef-[A-Za-z0-9.-]+$/);
    assert.ok(typeof l.extractedText === 'string' && l.extractedText !== '');
  }
  const ids = new Set<string>(['SPDXRef-DOCUMENT']);
  for (const p of doc.packages as Json[]) {
    const where = `package ${String(p.name)}`;
    assert.match(String(p.SPDXID), ID, where);
    assert.ok(!ids.has(String(p.SPDXID)), `${where}: SPDXID unique`);
    ids.add(String(p.SPDXID));
    assert.ok(typeof p.name === 'string' && p.name !== '', where);
    assert.ok(typeof p.downloadLocation === 'string' && p.downloadLocation !== '', where);
    for (const c of (p.checksums ?? []) as Json[]) {
      assert.equal(
        String(c.checksumValue).length,
        CHECKSUM_HEX[String(c.algorithm)],
        `${where}: ${c.algorithm}`,
      );
      assert.match(String(c.checksumValue), /^[0-9a-f]+$/);
    }
    licenseOk(String(p.licenseDeclared), refs, where);
    licenseOk(String(p.licenseConcluded), refs, where);
    if (p.primaryPackagePurpose !== undefined)
      assert.ok(PURPOSES.has(String(p.primaryPackagePurpose)), where);
    for (const r of (p.externalRefs ?? []) as Json[]) {
      assert.equal(r.referenceCategory, 'PACKAGE-MANAGER');
      assert.equal(r.referenceType, 'purl');
      assert.equal(PackageURL.fromString(String(r.referenceLocator)).toString(), r.referenceLocator, where);
    }
  }
  for (const id of doc.documentDescribes as string[]) assert.ok(ids.has(id), `documentDescribes ${id}`);
  for (const r of doc.relationships as Json[]) {
    assert.ok(RELATIONSHIPS.has(String(r.relationshipType)));
    assert.ok(ids.has(String(r.spdxElementId)), String(r.spdxElementId));
    assert.ok(ids.has(String(r.relatedSpdxElement)), String(r.relatedSpdxElement));
  }
  return doc;
}

/** The purl qualifier `arch` of an SPDX package, if any. */
export function purlOf(p: Json): PackageURL | undefined {
  const ref = ((p.externalRefs ?? []) as Json[]).find((r) => r.referenceType === 'purl');
  return ref ? PackageURL.fromString(String(ref.referenceLocator)) : undefined;
}
