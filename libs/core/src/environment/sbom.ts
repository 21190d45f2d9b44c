import { createHash } from 'node:crypto';
import { EnvironmentManifest } from './manifest';

export { SBOM_FILE } from './manifest';

/**
 * A CycloneDX 1.5 SBOM of an environment: the interpreter (with its source
 * and, for downloaded ones, the archive's sha256) and every installed
 * distribution with its version, PyPI purl and the sha256 of its RECORD
 * (which lists each installed file with its own hash). Deterministic: no
 * timestamp, and a serial number derived from the content hash, so the same
 * environment always has the same SBOM.
 */
export function environmentSbom(manifest: EnvironmentManifest): Record<string, unknown> {
  const serial = createHash('sha256').update(`pydepot-sbom:${manifest.contentHash ?? manifest.version}`).digest('hex');
  const uuid = `${serial.slice(0, 8)}-${serial.slice(8, 12)}-5${serial.slice(13, 16)}-8${serial.slice(17, 20)}-${serial.slice(20, 32)}`;
  const source = manifest.python.source;
  const python = {
    type: 'application',
    'bom-ref': 'cpython',
    name: 'cpython',
    version: manifest.python.version,
    purl: `pkg:generic/cpython@${manifest.python.version}`,
    ...(typeof source.sha256 === 'string' ? { hashes: [{ alg: 'SHA-256', content: source.sha256 }] } : {}),
    properties: Object.entries(source)
      .filter(([, v]) => typeof v === 'string')
      .map(([k, v]) => ({ name: `pydepot:source:${k}`, value: String(v) })),
  };
  const packages = manifest.packages.map((p) => ({
    type: 'library',
    'bom-ref': `pypi:${normalize(p.name)}@${p.version}`,
    name: p.name,
    version: p.version,
    purl: `pkg:pypi/${normalize(p.name)}@${p.version}`,
    ...(p.recordSha256 ? { hashes: [{ alg: 'SHA-256', content: p.recordSha256 }], properties: [{ name: 'pydepot:hash-of', value: 'RECORD' }] } : {}),
  }));
  return {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    serialNumber: `urn:uuid:${uuid}`,
    version: 1,
    metadata: {
      tools: { components: [{ type: 'application', name: 'pydepot' }] },
      component: {
        type: 'application',
        'bom-ref': `environment:${manifest.name}`,
        name: manifest.name,
        version: manifest.version,
        description: manifest.description,
        properties: [{ name: 'pydepot:platform', value: manifest.platform }],
      },
    },
    components: [python, ...packages],
    dependencies: [{ ref: `environment:${manifest.name}`, dependsOn: [python['bom-ref'], ...packages.map((p) => p['bom-ref'])] }],
  };
}

/** PEP 503 name normalisation, as purls for PyPI use. */
function normalize(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
