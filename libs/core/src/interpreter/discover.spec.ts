import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { compareVersions, findInstalledPythons, findInterpreter, inspectPrefix } from './discover';

function fakePrefix(version: string): Record<string, string> {
  const minor = version.split('.').slice(0, 2).join('.');
  return {
    [`${version}/bin/python${minor}`]: '',
    [`${version}/lib/python${minor}/os.py`]: '',
    [`${version}/include/python${minor}/patchlevel.h`]: `#define PY_VERSION "${version}"\n`,
  };
}

describe('interpreter discovery', () => {
  const { dir, cleanup } = testdir({ ...fakePrefix('3.12.1'), ...fakePrefix('3.12.4'), ...fakePrefix('3.11.7'), 'junk/readme.txt': '' });
  afterAll(cleanup);

  it('finds prefixes by their files, newest first, without running Python', () => {
    expect(findInstalledPythons([dir]).map((p) => p.version)).toEqual(['3.12.4', '3.12.1', '3.11.7']);
    expect(inspectPrefix(path.join(dir, 'junk'))).toBeUndefined();
  });

  it('matches a minor version to its newest patch and a full version exactly', () => {
    expect(findInterpreter('3.12', [dir]).version).toBe('3.12.4');
    expect(findInterpreter('3.12.1', [dir]).prefix).toBe(path.join(dir, '3.12.1'));
  });

  it('lists the versions it found when the request matches none', () => {
    expect(() => findInterpreter('3.9', [dir])).toThrow(/no installed CPython 3\.9 found; found 3\.12\.4, 3\.12\.1, 3\.11\.7/);
  });

  it('compares versions numerically', () => {
    expect(compareVersions('3.10.0', '3.9.18')).toBeGreaterThan(0);
  });
});
