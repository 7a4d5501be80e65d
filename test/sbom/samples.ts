import { allOf, declaredLicense, npmLicense } from '../../src/sbom/license.js';
import { componentId, hashesFromIntegrity, type Sbom, type SbomComponent } from '../../src/sbom/model.js';
import { debPurl, npmPurl } from '../../src/sbom/purl.js';

/** A component with its id made from its fields, as the SBOM makers make them. */
export function component(
  c: Omit<SbomComponent, 'id' | 'hashes' | 'dependsOn' | 'license'> & Partial<SbomComponent>,
): SbomComponent {
  return { hashes: [], dependsOn: [], license: null, ...c, id: componentId(c) };
}

/** A small SBOM: an app, an npm package it depends on, a Debian package. */
export function sample(): Sbom {
  const app = component({ kind: 'app', name: 'hello', version: '1.0.0', purl: npmPurl('hello', '1.0.0') });
  const express = component({
    kind: 'npm',
    name: '@scope/express',
    version: '5.1.0',
    purl: npmPurl('@scope/express', '5.1.0'),
    path: '/app/node_modules/@scope/express',
    layer: `sha256:${'b'.repeat(64)}`,
    hashes: hashesFromIntegrity(`sha512-${Buffer.alloc(64, 7).toString('base64')}`),
    license: npmLicense({ license: 'MIT' }),
    download: 'https://registry.npmjs.org/express/-/express-5.1.0.tgz',
  });
  const libc = component({
    kind: 'deb',
    name: 'libc6',
    version: '2.41-12',
    architecture: 'amd64',
    sourcePackage: 'glibc',
    purl: debPurl('libc6', '2.41-12', { arch: 'amd64', distro: 'debian-13' }),
    path: '/var/lib/dpkg/status.d/libc6',
    hashes: [{ algorithm: 'SHA-256', hex: 'a'.repeat(64) }],
    license: allOf([declaredLicense('GPL-2+'), declaredLicense('LGPL-2.1+ or MIT')]),
  });
  app.dependsOn.push(express.id);
  return {
    subject: { name: 'oci:out:latest', digest: `sha256:${'c'.repeat(64)}` },
    root: app.id,
    components: [libc, express, app],
    tool: { name: 'distill', version: '0.1.0' },
  };
}
