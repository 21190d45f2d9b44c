import { parseEnvironmentSpec } from '../model/environment';
import { DEFAULT_STANDALONE_RELEASE, parseSha256Sums, pythonPreference, resolveDistribution, standaloneTriple } from '.';

const request = (python: unknown) => parseEnvironmentSpec(JSON.stringify({ python }), '/ws/environments/t/environment.json', 't').python;

describe('resolveDistribution: installed or python-build-standalone', () => {
  it('meets a bare version with an installed CPython by default, and with a download when the preference says so', () => {
    expect(resolveDistribution(request('3.12'), {}).kind).toBe('installed');
    expect(resolveDistribution(request('3.12'), { PYDEPOT_PYTHON_PREFERENCE: 'standalone' }).kind).toBe('standalone');
    // auto: installed when one matches, a download when none does.
    expect(resolveDistribution(request('3.12'), { PYDEPOT_PYTHON_PREFERENCE: 'auto' }).kind).toBe('installed');
    expect(resolveDistribution(request('3.99'), { PYDEPOT_PYTHON_PREFERENCE: 'auto' }).kind).toBe('standalone');
    // The spec's own "source" wins over the workspace preference.
    expect(resolveDistribution(request({ version: '3.12', source: 'installed' }), { PYDEPOT_PYTHON_PREFERENCE: 'standalone' }).kind).toBe('installed');
  });

  it('identifies a standalone build by release, version and triple, without the network', () => {
    const source = resolveDistribution(request({ version: '3.12', source: 'standalone' }), {});
    expect(source.identity()).toBe(`standalone cpython-3.12+${DEFAULT_STANDALONE_RELEASE} ${standaloneTriple()}`);
    const pinned = resolveDistribution(request({ version: '3.12.7', source: 'standalone', release: '20241016', sha256: 'a'.repeat(64) }), {});
    expect(pinned.identity()).toBe(`standalone cpython-3.12.7+20241016 ${standaloneTriple()} ${'a'.repeat(64)}`);
  });

  it('names the allowed values of a bad preference', () => {
    expect(() => pythonPreference({ PYDEPOT_PYTHON_PREFERENCE: 'managed' })).toThrow('PYDEPOT_PYTHON_PREFERENCE must be "installed", "standalone", "auto"; got "managed"');
  });

  it('maps platforms to release triples and reads SHA256SUMS', () => {
    expect(standaloneTriple('linux', 'x64')).toBe('x86_64-unknown-linux-gnu');
    expect(standaloneTriple('win32', 'x64')).toBe('x86_64-pc-windows-msvc');
    expect(standaloneTriple('darwin', 'arm64')).toBe('aarch64-apple-darwin');
    expect(() => standaloneTriple('aix', 'ppc64')).toThrow(/no build for aix-ppc64/);
    const sums = [
      `${'a'.repeat(64)}  cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only.tar.gz`,
      `${'b'.repeat(64)}  cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only_stripped.tar.gz`,
      `${'c'.repeat(64)}  cpython-3.12.7+20241016-x86_64-unknown-linux-musl-install_only.tar.gz`,
      `${'d'.repeat(64)}  cpython-3.13.0+20241016-x86_64-unknown-linux-gnu-freethreaded+pgo+lto-full.tar.zst`,
    ].join('\n');
    expect(parseSha256Sums(sums, 'x86_64-unknown-linux-gnu')).toEqual([
      { version: '3.12.7', filename: 'cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only.tar.gz', sha256: 'a'.repeat(64) },
    ]);
  });
});
