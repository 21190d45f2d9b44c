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
    const { dir, cleanup } = testdir({ 'environments/tool/requirements.txt': 'click>=8\n' });
    try {
      const spec = parseEnvironmentSpec(JSON.stringify({ python: '3.12', packages: ['pillow==11.0.0'], requirements: ['requirements.txt'] }), path.join(dir, 'environments/tool/environment.json'), 'tool');
      expect(spec.requirements).toEqual([path.join(dir, 'environments/tool/requirements.txt')]);
    } finally {
      cleanup();
    }
    const spec = parse({ python: '3.12', packages: ['pillow==11.0.0'] });
    expect(spec.python).toEqual({ source: 'version', version: '3.12' });
    expect(spec.pythonPath).toBe('ignore');
    expect(spec.index).toEqual({ url: DEFAULT_INDEX_URL, extraUrls: [], findLinks: [], noIndex: false });
    expect(spec.includeStdlibTests).toBe(false);
    expect(spec.name).toBe('tool');
  });

  it('chooses the layout: shared by default on a depot folder, self-contained for git and archive, and refuses shared there', () => {
    expect(parse({ python: '3.12' }).layout).toBe(process.platform === 'win32' ? 'self-contained' : 'shared');
    expect(parse({ python: '3.12', layout: 'self-contained' }).layout).toBe('self-contained');
    expect(parse({ python: '3.12', publish: { to: 'git' } }).layout).toBe('self-contained');
    const error = errorOf(() => parse({ python: '3.12', layout: 'shared', publish: { to: 'archive' } }));
    expect(error.message).toContain('field "layout" is "shared", but "publish.to" is "archive"');
    expect(error.hint).toContain('remove "layout"');
    expect(errorOf(() => parse({ python: '3.12', layout: 'split' })).message).toContain('field "layout"');
  });

  it('resolves an archive path relative to the spec and keeps URLs as they are', () => {
    const sha256 = 'a'.repeat(64);
    expect(parse({ python: { archive: 'py.tar.gz', sha256 } }).python).toEqual({ source: 'archive', archive: '/ws/environments/tool/py.tar.gz', sha256 });
    expect(parse({ python: { archive: 'https://example.test/py.tar.gz', sha256 } }).python).toMatchObject({ archive: 'https://example.test/py.tar.gz' });
  });

  it('fails fast, naming the field, on a package that is a URL, a direct reference or a typo', () => {
    const cases: Array<[string, RegExp, RegExp]> = [
      ['https://files.example/pillow-11.0.0-py3-none-any.whl', /"packages\[0\]".*is a URL or a path/, /findLinks/],
      ['pillow @ https://files.example/pillow.whl', /is a direct reference/, /"index" settings/],
      ['pillow=11.0.0', /is not a valid requirement specifier/, /pin with "=="/],
      ['./wheels/x.whl', /is a URL or a path/, /findLinks/],
      ['pillow==11.0.0; python_version >= "3.9"', /^$/, /^$/],
      ['rich[jupyter]>=13,<15', /^$/, /^$/],
    ];
    for (const [entry, message, hint] of cases) {
      if (message.source === '^$') expect(() => parse({ python: '3.12', packages: [entry] })).not.toThrow();
      else {
        const error = errorOf(() => parse({ python: '3.12', packages: [entry] }));
        expect([entry, error.message]).toEqual([entry, expect.stringMatching(message)]);
        expect(error.hint).toMatch(hint);
      }
    }
  });

  it('refuses requirements-file lines that change package sources, naming the file and the line', () => {
    const { dir, cleanup } = testdir({
      'environments/tool/requirements.txt': '# studio tools\nclick>=8 \\\n  --hash=sha256:abc\n-r more.txt\n',
      'environments/tool/more.txt': 'rich==13.0.0\n--extra-index-url https://evil.example/simple\n',
      'environments/tool/typo.txt': '--index-ur https://pypi.org/simple\n',
      'environments/tool/editable.txt': '-e ../src\n',
      'environments/tool/direct.txt': 'numpy @ https://files.example/numpy.whl\n',
    });
    try {
      const spec = (requirements: string[]) => () => parseEnvironmentSpec(JSON.stringify({ python: '3.12', requirements }), path.join(dir, 'environments/tool/environment.json'), 'tool');
      const nested = errorOf(spec(['requirements.txt']));
      expect(nested.message).toBe(`${path.join(dir, 'environments/tool/more.txt')}:2: "--extra-index-url https://evil.example/simple" changes where packages come from`);
      expect(nested.hint).toMatch(/index\.extraUrls/);
      expect(errorOf(spec(['typo.txt'])).message).toMatch(/typo\.txt:1: "--index-ur https:\/\/pypi.org\/simple" uses an option pydepot does not accept/);
      expect(errorOf(spec(['editable.txt'])).message).toMatch(/editable\.txt:1: "-e \.\.\/src" is an editable install/);
      expect(errorOf(spec(['direct.txt'])).message).toMatch(/direct\.txt:1: "numpy @ https:\/\/files\.example\/numpy\.whl" is a direct reference/);
      expect(errorOf(spec(['missing.txt'])).message).toMatch(/field "requirements\[0\]" names .*missing\.txt, which cannot be read/);
    } finally {
      cleanup();
    }
  });

  it('limits environment names to what is safe on every OS and share', () => {
    for (const bad of ['bad case', 'Tool', 'con', 'tool.', '-tool', 'a/b', 'x'.repeat(65)]) {
      const error = errorOf(() => parseEnvironmentSpec(JSON.stringify({ python: '3.12' }), `/ws/environments/${bad}/environment.json`, bad));
      expect([bad, error.message]).toEqual([bad, expect.stringContaining(`folder name "${bad}" cannot be used`)]);
      expect(error.hint).toMatch(/lower-case letters, digits/);
    }
    expect(errorOf(() => parseEnvironmentSpec('{"python":"3.12"}', '/ws/environments/bad case/environment.json', 'bad case')).hint).toMatch(/e\.g\. "bad-case"/);
    for (const good of ['cli-tools', 'maya2026.tools', 'a', 'usd_view']) expect(() => parseEnvironmentSpec('{"python":"3.12"}', `/ws/environments/${good}/environment.json`, good)).not.toThrow();
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

  it('reads "platforms" (default: the agent\'s) and refuses, naming the field, what another platform cannot be built with here', () => {
    expect(parse({ python: '3.11' }).platforms).toEqual([process.platform === 'win32' ? 'windows' : 'linux']);
    expect(parse({ python: '3.11', platforms: ['linux', 'windows'] }).platforms).toEqual(['linux', 'windows']);
    expect(errorOf(() => parse({ python: '3.11', platforms: ['macos'] })).message).toMatch(/field "platforms\[0\]"/);
    expect(errorOf(() => parse({ python: '3.11', platforms: [] })).message).toMatch(/field "platforms"/);
    if (process.platform === 'win32') return;
    const git = errorOf(() => parse({ python: '3.11', platforms: ['windows'], publish: { to: 'git' } }));
    expect(git.message).toMatch(/field "platforms" lists windows, but "publish.to" is "git"/);
    expect(git.hint).toMatch(/directory depot/);
    expect(parse({ python: '3.11', platforms: ['windows'], layout: 'self-contained' }).layout).toBe('self-contained');
    const { dir, cleanup } = testdir({
      'environments/other/environment.json': JSON.stringify({ python: '3.11' }),
      'environments/tool/environment.json': JSON.stringify({ base: 'other', platforms: ['windows'] }),
    });
    try {
      expect(errorOf(() => loadEnvironmentSpec(path.join(dir, 'environments/tool/environment.json'))).message).toMatch(/field "platforms" lists windows, which an environment built on a base cannot be built for/);
    } finally {
      cleanup();
    }
  });
});
