import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { declaredEnvironment, declaredRuntime, runtimeForPlatform, runtimeProjectName } from './declared';
import { declaredPlatforms, hostTargetPlatform, platformFolder } from './platform';

describe('which runtime a spec asks for (read by the inference plugin)', () => {
  it('names a bare version python-<version>; anything else gets a hash of the request', () => {
    expect(runtimeProjectName({ python: '3.12', includeStdlibTests: false })).toBe('python-3.12');
    expect(runtimeProjectName({ python: '3.12', includeStdlibTests: true })).toMatch(/^python-3\.12-[0-9a-f]{8}$/);
    expect(runtimeProjectName({ python: { version: '3.12', source: 'standalone' }, includeStdlibTests: false })).toMatch(/^python-3\.12-[0-9a-f]{8}$/);
    expect(runtimeProjectName({ python: { nuget: '3.12.10', sha256: 'a'.repeat(64) }, includeStdlibTests: false })).toMatch(/^python-nuget-3\.12\.10-[0-9a-f]{8}$/);
  });

  it('makes local archive paths workspace-relative, so two specs naming one archive share one runtime; a base or a broken spec has none', () => {
    const { dir, cleanup } = testdir({
      'environments/a/environment.json': JSON.stringify({ python: { archive: '../../pythons/cpython.tar.gz', sha256: 'b'.repeat(64) } }),
      'environments/group/b/environment.json': JSON.stringify({ python: { sha256: 'b'.repeat(64), archive: '../../../pythons/cpython.tar.gz' } }),
      'environments/c/environment.json': JSON.stringify({ python: { archive: 'https://example.test/cpython.tar.gz', sha256: 'b'.repeat(64) } }),
      'environments/d/environment.json': JSON.stringify({ base: 'a' }),
      'environments/e/environment.json': '{ not json',
    });
    try {
      const at = (rel: string) => declaredRuntime(path.join(dir, rel, 'environment.json'), dir);
      expect(at('environments/a')!.request.python).toEqual({ archive: 'pythons/cpython.tar.gz', sha256: 'b'.repeat(64) });
      expect(at('environments/group/b')!.project).toBe(at('environments/a')!.project);
      expect(at('environments/c')!.request.python).toMatchObject({ archive: 'https://example.test/cpython.tar.gz' });
      expect(at('environments/c')!.project).not.toBe(at('environments/a')!.project);
      expect(at('environments/d')).toBeUndefined();
      expect(at('environments/e')).toBeUndefined();
    } finally {
      cleanup();
    }
  });

  it('follows "base" to the runtime and layout of the spec that names a Python, with the layout rules of the spec', () => {
    const { dir, cleanup } = testdir({
      'environments/root/environment.json': JSON.stringify({ python: '3.12', layout: 'self-contained' }),
      'environments/child/environment.json': JSON.stringify({ base: 'root' }),
      'environments/plain/environment.json': JSON.stringify({ python: '3.12' }),
      'environments/old/environment.json': JSON.stringify({ python: '3.9' }),
      'environments/git/environment.json': JSON.stringify({ python: '3.12', publish: { to: 'git' } }),
    });
    try {
      const at = (name: string, platform: NodeJS.Platform = 'linux') => declaredEnvironment(path.join(dir, 'environments', name, 'environment.json'), dir, platform);
      expect(at('child')).toEqual({ base: 'root', runtime: { project: 'python-3.12', request: { python: '3.12', includeStdlibTests: false } }, layout: 'self-contained', platforms: ['linux'] });
      expect(at('plain').layout).toBe('shared');
      expect(at('plain', 'win32').layout).toBe('self-contained');
      expect(at('old').layout).toBe('self-contained');
      expect(at('git').layout).toBe('self-contained');
      expect(at('missing')).toEqual({ layout: 'shared', platforms: ['linux'] });
    } finally {
      cleanup();
    }
  });

  it('maps a bare version to the workspace\'s Python of another platform ("pythons"), with the platform in the request and the name', () => {
    const own = { project: 'python-3.11', request: { python: '3.11', includeStdlibTests: false } };
    const sha = 'b'.repeat(64);
    const mapped = runtimeForPlatform(own, 'windows', { windows: { '3.11': { msi: 'pythons/python-3.11.9-amd64.msi', sha256: sha } } }, '/ws');
    expect(mapped).toEqual({ project: 'python-3.11-windows', request: { python: { msi: 'pythons/python-3.11.9-amd64.msi', sha256: sha }, includeStdlibTests: false, platform: 'windows' } });
    // The agent's own platform: the runtime as it is.
    expect(runtimeForPlatform(own, hostTargetPlatform(), {}, '/ws')).toBe(own);
    // Unmapped: the version itself, named for the platform (its runtime target says what to add to nx.json).
    expect(runtimeForPlatform(own, 'windows', undefined, '/ws')).toEqual({ project: 'python-3.11-windows', request: { python: '3.11', includeStdlibTests: false, platform: 'windows' } });
    // Anything but a bare version keeps its own request: a Windows archive named by the spec.
    const archive = { project: 'python-archive-12345678', request: { python: { archive: 'win.zip', sha256: sha }, includeStdlibTests: false } };
    expect(runtimeForPlatform(archive, 'windows', { windows: { '3.11': '3.11' } }, '/ws').project).toMatch(/^python-archive-windows-[0-9a-f]{8}$/);
    expect(declaredPlatforms(['windows', 'windows', 'macos'])).toEqual(['windows']);
    expect(declaredPlatforms(undefined)).toEqual([hostTargetPlatform()]);
    expect(platformFolder('/depot', 'windows', path.join)).toBe('/depot/windows');
    expect(platformFolder('/depot', 'linux', path.join)).toBe('/depot');
  });
});
