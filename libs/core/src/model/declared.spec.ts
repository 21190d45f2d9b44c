import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { declaredEnvironment, declaredRuntime, runtimeProjectName } from './declared';

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
      expect(at('missing')).toEqual({ layout: 'shared' });
    } finally {
      cleanup();
    }
  });
});
