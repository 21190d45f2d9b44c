import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { PydepotError } from '../errors';
import { DEFAULT_INDEX_URL, loadEnvironmentSpec, parseEnvironmentSpec } from './environment';

const parse = (value: unknown) => parseEnvironmentSpec(JSON.stringify(value), '/ws/environments/tool/environment.json', 'tool');

function errorOf(fn: () => unknown): PydepotError {
  try {
    fn();
  } catch (error) {
    return error as PydepotError;
  }
  throw new Error('expected an error');
}

describe('environment spec', () => {
  it('normalises a version string to an installed-CPython request and fills defaults', () => {
    const spec = parse({ python: '3.12', packages: ['pillow==11.0.0'], requirements: ['requirements.txt'] });
    expect(spec.python).toEqual({ source: 'version', version: '3.12' });
    expect(spec.requirements).toEqual(['/ws/environments/tool/requirements.txt']);
    expect(spec.index).toEqual({ url: DEFAULT_INDEX_URL, extraUrls: [], findLinks: [], noIndex: false });
    expect(spec.includeStdlibTests).toBe(false);
    expect(spec.name).toBe('tool');
  });

  it('resolves an archive path relative to the spec and keeps URLs as they are', () => {
    const sha256 = 'a'.repeat(64);
    expect(parse({ python: { archive: 'py.tar.gz', sha256 } }).python).toEqual({ source: 'archive', archive: '/ws/environments/tool/py.tar.gz', sha256 });
    expect(parse({ python: { archive: 'https://example.test/py.tar.gz', sha256 } }).python).toMatchObject({ archive: 'https://example.test/py.tar.gz' });
  });

  it('names the file and the field of every problem', () => {
    const error = errorOf(() => parse({ python: 3.12, packages: 'pillow', verify: { imports: ['ok', 'not ok'] }, colour: 'red' }));
    expect(error.message).toContain('/ws/environments/tool/environment.json');
    expect(error.message).toContain('field "python"');
    expect(error.message).toContain('field "packages" must be an array, got string');
    expect(error.message).toContain('field "verify.imports[1]"');
    expect(error.message).toContain('field "colour" is not a known field');
    expect(error.hint).toMatch(/environment.schema.json/);
  });

  it('requires a well-formed sha256 for archives', () => {
    const error = errorOf(() => parse({ python: { archive: 'x.tar.gz', sha256: 'abc' } }));
    expect(error.message).toContain('field "python.sha256"');
  });

  it('rejects a missing python field and a version that is not a CPython 3 version', () => {
    expect(errorOf(() => parse({ packages: [] })).message).toContain('field "python" is required');
    expect(errorOf(() => parse({ python: '2.7' })).message).toMatch(/field "python".*does not match/);
  });

  it('reports JSON syntax errors with the file name', () => {
    const { dir, cleanup } = testdir({ 'environments/bad/environment.json': '{ "python": "3.12", }' });
    try {
      const error = errorOf(() => loadEnvironmentSpec(path.join(dir, 'environments/bad/environment.json')));
      expect(error.message).toContain(path.join(dir, 'environments/bad/environment.json'));
      expect(error.message).toContain('not valid JSON');
    } finally {
      cleanup();
    }
  });

  it('names a missing spec file', () => {
    expect(errorOf(() => loadEnvironmentSpec('/nowhere/environment.json')).message).toContain('/nowhere/environment.json');
  });
});

describe('environments built on a base', () => {
  const { dir, cleanup } = testdir({
    'environments/base/environment.json': JSON.stringify({ python: { version: '3.11', source: 'standalone' }, includeStdlibTests: true, packages: ['rich'] }),
    'environments/tool/environment.json': JSON.stringify({ base: 'base', packages: ['click'] }),
    'environments/both/environment.json': JSON.stringify({ base: 'base', python: '3.12' }),
    'environments/neither/environment.json': JSON.stringify({ packages: ['click'] }),
    'environments/orphan/environment.json': JSON.stringify({ base: 'missing' }),
    'environments/a/environment.json': JSON.stringify({ base: 'b' }),
    'environments/b/environment.json': JSON.stringify({ base: 'a' }),
  });
  afterAll(cleanup);
  const load = (name: string) => loadEnvironmentSpec(path.join(dir, 'environments', name, 'environment.json'));

  it("inherit the base's Python and stdlib setting, keeping their own packages", () => {
    const tool = load('tool');
    expect(tool.base).toEqual({ name: 'base', file: path.join(dir, 'environments/base/environment.json') });
    expect(tool.python).toEqual({ source: 'version', version: '3.11', preference: 'standalone' });
    expect(tool.includeStdlibTests).toBe(true);
    expect(tool.packages).toEqual(['click']);
  });

  it('give clear errors: python with base, neither, a missing base, a cycle', () => {
    expect(() => load('both')).toThrow(/field "python" cannot be combined with "base"/);
    expect(() => load('neither')).toThrow(/field "python" is required \(or "base"/);
    expect(() => load('orphan')).toThrow(/field "base" names "missing", but there is no .*environments\/missing\/environment\.json/);
    expect(() => load('a')).toThrow(/field "base" makes a cycle: a → b → a/);
  });
});
