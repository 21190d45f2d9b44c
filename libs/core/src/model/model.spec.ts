import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { loadEnvironmentSpec } from './environment';
import { findDuplicateKey } from './json-text';
import { decideLayout } from './layout';
import { formatPythonRequest, parsePythonRequest, PythonRequest } from './python-request';

describe('the Python request', () => {
  const sha = 'a'.repeat(64);
  const requests: PythonRequest[] = [
    { source: 'version', version: '3.12' },
    { source: 'version', version: '3.12.1', preference: 'installed' },
    { source: 'version', version: '3.12', preference: 'standalone', release: '20250604', sha256: sha, mirror: 'file:///mirror' },
    { source: 'archive', archive: '/ws/pythons/cpython.tar.gz', sha256: sha },
    { source: 'archive', archive: 'https://example.test/cpython.tar.gz', sha256: sha },
    { source: 'msi', msi: '/ws/pythons/python.msi', sha256: sha },
    { source: 'nuget', version: '3.12.7', sha256: sha, package: 'pythonx86', feed: 'file:///feed' },
  ];

  it.each(requests.map((r) => [r.source, r]))('parses its own canonical form back (%s)', (_kind, request) => {
    const toWs = (p: string) => path.posix.relative('/ws', p);
    const fromWs = (p: string) => path.posix.resolve('/ws', p);
    const canonical = formatPythonRequest(request, toWs);
    expect(parsePythonRequest(canonical, fromWs)).toEqual(request);
    // Canonical is stable: formatting the parse of it gives the same value (keys sorted, paths relative).
    expect(formatPythonRequest(parsePythonRequest(canonical, fromWs)!, toWs)).toEqual(canonical);
    expect(JSON.stringify(canonical)).not.toContain('/ws/');
  });

  it('writes a bare version as a string and an object with sorted keys, so equal requests give equal runtimes', () => {
    expect(formatPythonRequest({ source: 'version', version: '3.12' })).toBe('3.12');
    expect(JSON.stringify(formatPythonRequest(parsePythonRequest({ sha256: sha, archive: 'a.tgz' })!))).toBe(JSON.stringify({ archive: 'a.tgz', sha256: sha }));
  });

  it('reads nothing from values that are none of the forms (the lenient reader draws no runtime)', () => {
    for (const bad of [undefined, null, 3, [], '', {}, { archive: 3, sha256: sha }, { msi: 'x.msi' }]) expect(parsePythonRequest(bad)).toBeUndefined();
  });
});

describe('the layout decision', () => {
  it('is shared by default on POSIX, self-contained where the spec, the publisher, the version, the platform or the runtime says so', () => {
    expect(decideLayout({ platform: 'linux' })).toEqual({ layout: 'shared' });
    expect(decideLayout({ platform: 'linux', intent: 'self-contained' }).layout).toBe('self-contained');
    expect(decideLayout({ platform: 'win32' }).layout).toBe('self-contained');
    expect(decideLayout({ platform: 'linux', publishTo: 'git' }).layout).toBe('self-contained');
    expect(decideLayout({ platform: 'linux', version: '3.9' }).layout).toBe('self-contained');
    expect(decideLayout({ platform: 'linux', runtime: { launcher: false, version: '3.12.1' } })).toMatchObject({ layout: 'self-contained', reason: expect.stringContaining('no launcher') });
    expect(decideLayout({ platform: 'linux', runtime: { launcher: true, version: '3.12.1' } }).layout).toBe('shared');
  });

  it('reports a contradiction only where the spec asked for one', () => {
    expect(decideLayout({ platform: 'linux', publishTo: 'archive' }).conflict).toBeUndefined();
    expect(decideLayout({ platform: 'linux', publishTo: 'archive', intent: 'shared' }).conflict?.message).toContain('"publish.to" is "archive"');
    expect(decideLayout({ platform: 'linux', publishTo: 'git', base: { name: 'core', layout: 'shared' } }).conflict?.hint).toContain('core');
    expect(decideLayout({ platform: 'linux', publishTo: 'git', base: { name: 'core', layout: 'self-contained' } })).toEqual({ layout: 'self-contained' });
  });

  it('is what the loader records: an environment on a shared base that publishes to git is refused at load, naming its file and the fix', () => {
    const { dir, cleanup } = testdir({
      'environments/core/environment.json': JSON.stringify({ python: '3.12' }),
      'environments/tool/environment.json': JSON.stringify({ base: 'core', publish: { to: 'git', depot: '/tmp/x.git' } }),
    });
    try {
      const file = path.join(dir, 'environments/tool/environment.json');
      expect(() => loadEnvironmentSpec(file)).toThrow(`${file}: "publish.to" is "git", but the base environment "core" runs on a shared runtime`);
    } finally {
      cleanup();
    }
  });
});

describe('duplicate keys', () => {
  it('finds the first key given twice in one object, with its field path and line', () => {
    expect(findDuplicateKey('{"python": "3.12", "packages": [], "python": "3.11"}')).toEqual({ field: 'python', key: 'python', line: 1 });
    expect(findDuplicateKey('{\n "publish": {\n  "to": "git",\n  "to": "archive"\n }\n}')).toEqual({ field: 'publish.to', key: 'to', line: 4 });
    expect(findDuplicateKey('{"verify": {"commands": [["a"], {"x": 1, "x": 2}]}}')?.field).toBe('verify.commands[1].x');
    expect(findDuplicateKey('{"a": {"k": 1}, "b": {"k": 2}, "s": "\\"k\\": 1, \\"k\\""}')).toBeUndefined();
  });

  it('are refused by the loader, naming the file and the field', () => {
    const { dir, cleanup } = testdir({ 'environments/dup/environment.json': '{\n  "python": "3.12",\n  "python": "3.11"\n}\n' });
    try {
      const file = path.join(dir, 'environments/dup/environment.json');
      expect(() => loadEnvironmentSpec(file)).toThrow(`${file}: field "python" is given twice (line 3)`);
    } finally {
      cleanup();
    }
  });
});
