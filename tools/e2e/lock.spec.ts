import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cacheDir, checkedLock, hashTree, indexTree, installRequirements, loadEnvironmentSpec, lockEnvironment, METADATA_FILES } from '../../libs/core/src';
import { makeWheel, testdir } from '../testing';
import { buildEnvironment, exec, quiet } from './helpers';

jest.setTimeout(600_000);

/**
 * Locked installs, with real uv (lock) and real pip (install), from a local
 * wheelhouse: a lock with hashes, two clones building identical files from
 * it, a tampered artifact refused by name, a stale lock reported.
 */
describe('locked, hashed installs', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-lock-');
  afterAll(cleanup);
  const ws1 = path.join(dir, 'clone one');
  const wheels = path.join(ws1, 'wheelhouse');
  mkdirSync(wheels, { recursive: true });
  makeWheel(wheels, 'hello-tool', '1.0.0', { script: 'hello-tool' });
  makeWheel(wheels, 'dep-pkg', '2.1.0');
  const specFile = (ws: string) => path.join(ws, 'environments/locked/environment.json');
  mkdirSync(path.dirname(specFile(ws1)), { recursive: true });
  writeFileSync(specFile(ws1), JSON.stringify({ python: '3.12', packages: ['hello-tool==1.0.0', 'dep-pkg'], index: { noIndex: true, findLinks: ['../../wheelhouse'] } }));

  let first: { contentHash: string; tree: string };

  it('writes a lock with a hash for every artifact, then builds from it', async () => {
    const { manifest } = await buildEnvironment(specFile(ws1), path.join(ws1, 'dist/pydepot/locked'));
    const lock = await lockEnvironment({ spec: loadEnvironmentSpec(specFile(ws1)), pythonVersion: manifest.python.version, cacheDir: cacheDir(), ...quiet });
    const text = readFileSync(lock, 'utf8');
    expect(text).toMatch(/^# pydepot lock: inputs [0-9a-f]{32}\n/);
    expect(text).toMatch(/dep-pkg==2\.1\.0 \\\n\s+--hash=sha256:[0-9a-f]{64}/);
    expect(text).toMatch(/hello-tool==1\.0\.0 \\\n\s+--hash=sha256:[0-9a-f]{64}/);
    expect(text).not.toContain(dir); // nothing machine-specific in a committed file
    const log: string[] = [];
    const locked = await installRequirements({
      inputPath: path.join(ws1, 'dist/pydepot/locked/venv'),
      outputPath: path.join(ws1, 'dist/pydepot/locked/env-locked'),
      spec: loadEnvironmentSpec(specFile(ws1)),
      cacheDir: cacheDir(),
      log: (m) => log.push(m),
    });
    expect(log).toContain('installing requirements.lock (hashes required) with pip');
    expect(exec(path.join(ws1, 'dist/pydepot/locked/env-locked/bin/hello-tool'))).toBe('hello-tool 1.0.0\n');
    first = { contentHash: locked.contentHash!, tree: await hashTree(path.join(ws1, 'dist/pydepot/locked/env-locked'), (rel) => !METADATA_FILES.has(rel)) };
  });

  it('gives identical installed files in a second clone built from the same lock', async () => {
    const ws2 = path.join(dir, 'clone two');
    mkdirSync(ws2);
    for (const item of ['wheelhouse', 'environments']) cpSync(path.join(ws1, item), path.join(ws2, item), { recursive: true });
    const { manifest, root } = await buildEnvironment(specFile(ws2), path.join(ws2, 'dist/pydepot/locked'));
    // Compared file by file first, so a failure names what differs.
    const index = async (root_: string) => new Map((await indexTree(root_, (rel) => !METADATA_FILES.has(rel))).map((e) => [e.rel, JSON.stringify(e)]));
    const [a, b] = [await index(path.join(ws1, 'dist/pydepot/locked/env-locked')), await index(root)];
    expect([...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k))).toEqual([]);
    // Only the metadata files (manifest, file index, SBOM) are left out: they describe the content.
    expect(manifest.contentHash).toBe(first.contentHash);
    expect(await hashTree(root, (rel) => !METADATA_FILES.has(rel))).toBe(first.tree);
  });

  it('refuses a tampered artifact, naming the package; nothing is installed', async () => {
    const tampered = path.join(dir, 'tampered');
    cpSync(ws1, tampered, { recursive: true, filter: (src) => !src.includes(`${path.sep}dist`) });
    // Same name and version, different content: what a compromised mirror would serve.
    rmSync(path.join(tampered, 'wheelhouse/hello_tool-1.0.0-py3-none-any.whl'));
    makeWheel(path.join(tampered, 'wheelhouse'), 'hello-tool', '1.0.0', { script: 'hello-tool', module: 'print("owned")\ndef main(): pass\n' });
    // A stage beside the venv it installs into (the runtime is two levels up, as for every stage).
    const out = path.join(ws1, 'dist/pydepot/locked/tampered-env');
    const error = await installRequirements({ inputPath: path.join(ws1, 'dist/pydepot/locked/venv'), outputPath: out, spec: loadEnvironmentSpec(specFile(tampered)), cacheDir: cacheDir(), ...quiet }).catch((e) => e);
    expect(String(error.message)).toContain('pip could not install the packages of environment "locked"');
    expect(String(error.output)).toMatch(/DO NOT MATCH THE HASHES[\s\S]*hello[-_]tool/i);
    expect(existsSync(out)).toBe(false);
  });

  it('reports a lock that no longer matches its spec instead of re-resolving', () => {
    const spec = loadEnvironmentSpec(specFile(ws1));
    expect(checkedLock(spec, '3.12.1')).toBe(path.join(path.dirname(specFile(ws1)), 'requirements.lock'));
    const changed = { ...spec, packages: ['hello-tool==1.0.0'] };
    expect(() => checkedLock(changed, '3.12.1')).toThrow(/requirements\.lock is out of date with .*environment\.json/);
    expect(() => checkedLock(spec, '3.11.7')).toThrow(/out of date/);
  });
});
