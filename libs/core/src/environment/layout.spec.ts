import { POSIX_LAYOUT, sharedLayoutFiles, WINDOWS_LAYOUT, WINDOWS_SHARED_LAYOUT } from './layout';

describe('the shared layout, per OS', () => {
  const id = 'cpython-3.12.10-win32-x64-0123456789ab';

  it('POSIX: a copy of the runtime launcher, python/python3 links, and a home two levels up in _runtimes/<id>/bin', () => {
    const files = sharedLayoutFiles(POSIX_LAYOUT, 'cpython-3.12.1-linux-x64-2503131e79c3', '3.12.1');
    expect(files).toEqual({
      launcher: 'bin/python3.12',
      runtimeLauncher: 'bin/python3.12',
      aliases: ['bin/python', 'bin/python3'],
      home: '../../_runtimes/cpython-3.12.1-linux-x64-2503131e79c3/bin',
      pyvenvCfg: 'home = ../../_runtimes/cpython-3.12.1-linux-x64-2503131e79c3/bin\ninclude-system-site-packages = true\nversion = 3.12.1\npydepot-runtime = cpython-3.12.1-linux-x64-2503131e79c3\n',
    });
  });

  it('Windows: a venv (Scripts\\python.exe and pythonw.exe, pydepot\'s launchers), no links (shares often lack them), home is the runtime root holding python.exe and python312.dll', () => {
    const files = sharedLayoutFiles(WINDOWS_SHARED_LAYOUT, id, '3.12.10');
    expect(files.launcher).toBe('Scripts/python.exe');
    expect(files.runtimeLauncher).toBe('pydepot/python.exe');
    expect(files.guiLauncher).toEqual({ file: 'Scripts/pythonw.exe', from: 'pydepot/pythonw.exe' });
    expect(files.aliases).toEqual([]);
    expect(files.home).toBe(`..\\..\\_runtimes\\${id}`);
    expect(files.pyvenvCfg.split('\n')[0]).toBe(`home = ..\\..\\_runtimes\\${id}`);
    expect(WINDOWS_LAYOUT.sitePackages('3.12')).toBe('Lib/site-packages');
  });
});
