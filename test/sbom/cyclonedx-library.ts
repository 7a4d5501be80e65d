/**
 * The oracle of src/sbom/cyclonedx.ts: the CycloneDX document as @cyclonedx/cyclonedx-library
 * makes it from the same model (its Models, normalizer with sorted lists, JsonSerializer), which
 * is how distill wrote CycloneDX before decision 0032. The writer must give these very bytes.
 */
import { Enums, Models, Serialize, Spec } from '@cyclonedx/cyclonedx-library';
import { cyclonedxSerial } from '../../src/sbom/cyclonedx.js';
import { type Sbom, type SbomComponent, sortComponents } from '../../src/sbom/model.js';

const TYPE: Record<SbomComponent['kind'], Enums.ComponentType> = {
  image: Enums.ComponentType.Container,
  app: Enums.ComponentType.Application,
  node: Enums.ComponentType.Platform,
  deb: Enums.ComponentType.Library,
  apk: Enums.ComponentType.Library,
  rpm: Enums.ComponentType.Library,
  npm: Enums.ComponentType.Library,
};

function bomRefs(components: readonly SbomComponent[]): Map<string, string> {
  const plain = (c: SbomComponent) =>
    c.purl ?? `${c.kind}:${c.name}${c.version !== null ? `@${c.version}` : ''}`;
  const counts = new Map<string, number>();
  for (const c of components) counts.set(plain(c), (counts.get(plain(c)) ?? 0) + 1);
  const refs = new Map<string, string>();
  for (const c of components) {
    const p = plain(c);
    refs.set(c.id, counts.get(p) === 1 ? p : `${p}#${c.path ?? ''}`);
  }
  return refs;
}

function cdxComponent(c: SbomComponent, bomRef: string): Models.Component {
  const component = new Models.Component(TYPE[c.kind], c.name, {
    bomRef,
    ...(c.version !== null && { version: c.version }),
    ...(c.purl !== undefined && { purl: c.purl }),
  });
  for (const h of c.hashes) component.hashes.set(h.algorithm as Enums.HashAlgorithm, h.hex);
  if (c.license) {
    component.licenses.add(
      Object.keys(c.license.refs).length === 0
        ? new Models.LicenseExpression(c.license.expression)
        : new Models.NamedLicense(c.license.declared),
    );
  }
  if (c.download !== undefined) {
    component.externalReferences.add(
      new Models.ExternalReference(c.download, Enums.ExternalReferenceType.Distribution),
    );
  }
  const props: [string, string | undefined][] = [
    ['distill:layer', c.layer],
    ['distill:path', c.path],
    ['distill:source-package', c.sourcePackage],
    ['distill:architecture', c.architecture],
  ];
  for (const [name, value] of props)
    if (value !== undefined) component.properties.add(new Models.Property(name, value));
  return component;
}

function cyclonedxBom(sbom: Sbom): Models.Bom {
  const components = sortComponents(sbom.components);
  const refs = bomRefs(components);
  const models = new Map(components.map((c) => [c.id, cdxComponent(c, refs.get(c.id)!)]));
  for (const c of components) {
    const m = models.get(c.id)!;
    for (const d of c.dependsOn) {
      const dep = models.get(d);
      if (dep) m.dependencies.add(dep.bomRef);
    }
  }
  const bom = new Models.Bom({ serialNumber: cyclonedxSerial(sbom, components) });
  bom.metadata.component = models.get(sbom.root);
  if (sbom.created !== undefined) bom.metadata.timestamp = new Date(sbom.created);
  bom.metadata.tools.components.add(
    new Models.Component(Enums.ComponentType.Application, sbom.tool.name, { version: sbom.tool.version }),
  );
  if (sbom.subject.digest !== undefined) {
    bom.metadata.properties.add(new Models.Property('distill:image-digest', sbom.subject.digest));
  }
  for (const c of components) if (c.id !== sbom.root) bom.components.add(models.get(c.id)!);
  return bom;
}

/** The library's CycloneDX 1.6 JSON text of an SBOM. */
export function libraryCycloneDx(sbom: Sbom): string {
  const serializer = new Serialize.JsonSerializer(new Serialize.JSON.Normalize.Factory(Spec.Spec1dot6));
  return `${serializer.serialize(cyclonedxBom(sbom), { sortLists: true, space: 2 })}\n`;
}
