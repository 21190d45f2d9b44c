import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir, writeFiles } from '../../../../tools/testing';
import { WINDOWS_PREFIX, writeMsi, writeNupkg } from '../../../../tools/testing/windows';
import { resolveDistribution } from '.';
import { unpackDistribution } from '../pipeline/stages';
import { parseEnvironmentSpec } from '../model/environment';

const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const quiet = { includeStdlibTests: false, log: () => undefined };

describe('Windows distributions, prepared on Linux', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-winsrc-');
  afterAll(cleanup);
  const tree = path.join(dir, 'tree');
  writeFiles(tree, WINDOWS_PREFIX);
  const context = { cacheDir: path.join(dir, 'cache'), ...quiet };

  const expectWindowsTree = (dest: string) => {
    expect(existsSync(path.join(dest, 'python.exe'))).toBe(true);
    expect(readFileSync(path.join(dest, 'Lib/json/__init__.py'), 'utf8')).toBe('# json\n');
    expect(existsSync(path.join(dest, 'DLLs/_ssl.pyd'))).toBe(true);
    // Pruned like every source: the test suite and the installer's own site-packages.
    expect(existsSync(path.join(dest, 'Lib/test'))).toBe(false);
    expect(existsSync(path.join(dest, 'Lib/site-packages/leftover'))).toBe(false);
    expect(existsSync(path.join(dest, 'Lib/site-packages/README.txt'))).toBe(true);
  };

  it('unpacks an MSI built with wixl through the MSI source (msiextract), verified by sha256', async () => {
    const msi = path.join(dir, 'python-3.12.7-amd64.msi');
    writeMsi(msi, tree, Object.keys(WINDOWS_PREFIX));
    const spec = parseEnvironmentSpec(JSON.stringify({ python: { msi: 'python-3.12.7-amd64.msi', sha256: sha256Of(msi) } }), path.join(dir, 'environment.json'), 'win');
    const dist = resolveDistribution(spec.python);
    expect(dist.kind).toBe('msi');
    const dest = path.join(dir, 'out-msi');
    const result = await dist.unpack(dest, context);
    expect(result).toEqual({ version: '3.12.7', os: 'windows', scrubBinaries: false, source: { kind: 'msi', msi: 'python-3.12.7-amd64.msi', sha256: sha256Of(msi) } });
    expectWindowsTree(dest);
  });

  it('refuses an MSI whose sha256 does not match, extracting nothing', async () => {
    const spec = parseEnvironmentSpec(JSON.stringify({ python: { msi: 'python-3.12.7-amd64.msi', sha256: 'b'.repeat(64) } }), path.join(dir, 'environment.json'), 'win');
    const dest = path.join(dir, 'out-bad-msi');
    await expect(resolveDistribution(spec.python).unpack(dest, context)).rejects.toThrow(/sha256 mismatch/);
    expect(existsSync(dest)).toBe(false);
  });

  it('fetches the NuGet "python" package by version from a feed (flat-container layout) and finds tools/', async () => {
    const feed = path.join(dir, 'feed');
    const nupkg = path.join(feed, 'python/3.12.7/python.3.12.7.nupkg');
    mkdirSync(path.dirname(nupkg), { recursive: true });
    writeNupkg(nupkg, tree);
    const spec = parseEnvironmentSpec(
      JSON.stringify({ python: { nuget: '3.12.7', sha256: sha256Of(nupkg), feed: `file://${feed}` } }),
      path.join(dir, 'environment.json'),
      'win',
    );
    const dest = path.join(dir, 'out-nuget');
    const result = await resolveDistribution(spec.python).unpack(dest, context);
    expect(result).toMatchObject({ version: '3.12.7', os: 'windows', source: { kind: 'nuget', archive: 'python.3.12.7.nupkg' } });
    expectWindowsTree(dest);
  });

  it('stops the Linux pipeline on a Windows tree with a message that says where to build it', async () => {
    const spec = parseEnvironmentSpec(JSON.stringify({ python: { nuget: '3.12.7', sha256: sha256Of(path.join(dir, 'feed/python/3.12.7/python.3.12.7.nupkg')), feed: `file://${dir}/feed` } }), path.join(dir, 'environment.json'), 'win');
    const out = path.join(dir, 'stage-unpack');
    await expect(unpackDistribution({ spec, outputPath: out, cacheDir: context.cacheDir, log: () => undefined })).rejects.toThrow(/is a windows CPython; this build agent runs linux/);
    expect(existsSync(out)).toBe(false);
  });
});
