import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pyenvPython, testdir } from '../../../../tools/testing';
import { relativeWindowsLauncher } from './scripts';
import { parseEntryPoints, scriptBody, storedZip, windowsScript, writeWindowsScripts } from './windows-scripts';

const LAUNCHER = Buffer.concat([Buffer.from('MZ'), Buffer.alloc(510, 1)]);

describe('console scripts of a Windows environment built elsewhere', () => {
  it('reads console and GUI entry points, skipping what cannot be a file name or a script', () => {
    const text = '[console_scripts]\ntool = pkg.cli:main [extra]\nbad/name = pkg:main\nmodule-only = pkg\n\n[gui_scripts]\ntool-gui = pkg.gui:App.run\n[other]\nx = y:z\n';
    expect(parseEntryPoints(text)).toEqual([
      { name: 'tool', module: 'pkg.cli', attr: 'main', gui: false },
      { name: 'module-only', module: 'pkg', attr: undefined, gui: false },
      { name: 'tool-gui', module: 'pkg.gui', attr: 'App.run', gui: true },
    ]);
    expect(scriptBody({ name: 'tool-gui', module: 'pkg.gui', attr: 'App.run', gui: true })).toContain('from pkg.gui import App\n');
  });

  it('writes what pip writes on Windows: distlib\'s launcher, a shebang relative to the launcher, a zip CPython reads', () => {
    const exe = windowsScript(LAUNCHER, { name: 'tool', module: 'pkg', attr: 'main', gui: false });
    expect(exe.subarray(0, LAUNCHER.length).equals(LAUNCHER)).toBe(true);
    expect(exe.toString('latin1', LAUNCHER.length, LAUNCHER.length + 31)).toBe('#!<launcher_dir>\\python.exe\r\nPK');
    const gui = windowsScript(LAUNCHER, { name: 'tool', module: 'pkg', attr: 'main', gui: true });
    expect(gui.toString('latin1')).toContain('#!<launcher_dir>\\pythonw.exe\r\n');
    // Already relative: the relocation rewrite (python.exe beside the launcher, as in a venv) leaves it as it is.
    expect(relativeWindowsLauncher(exe, '.')!.equals(exe)).toBe(true);
    const { dir, cleanup } = testdir({ 'tool.exe': exe, 'plain.zip': storedZip('a/b.txt', Buffer.from('hello')) });
    try {
      const read = `import sys, zipfile\nz = zipfile.ZipFile(sys.argv[1])\nassert z.testzip() is None\nprint(z.read(sys.argv[2]).decode())`;
      expect(execFileSync(pyenvPython('3.12'), ['-c', read, path.join(dir, 'tool.exe'), '__main__.py'], { encoding: 'utf8' })).toContain('sys.exit(main())');
      expect(execFileSync(pyenvPython('3.12'), ['-c', read, path.join(dir, 'plain.zip'), 'a/b.txt'], { encoding: 'utf8' }).trim()).toBe('hello');
    } finally {
      cleanup();
    }
  });

  it('replaces the agent\'s scripts in site-packages/bin with .exe files in Scripts\\, and each RECORD with where they now are', async () => {
    const record = 'pkg/__init__.py,sha256=x,1\n../../bin/tool,sha256=y,10\n../../bin/helper.bat,sha256=z,3\npkg-1.0.dist-info/RECORD,,\n';
    const { dir, cleanup } = testdir({
      'Lib/site-packages/pkg-1.0.dist-info/entry_points.txt': '[console_scripts]\ntool = pkg:main\n',
      'Lib/site-packages/pkg-1.0.dist-info/RECORD': record,
      'Lib/site-packages/bin/tool': '#!/build/python\nimport pkg\n',
      'Lib/site-packages/bin/helper.bat': '@echo off\r\n',
    });
    try {
      const written = await writeWindowsScripts(dir, 'Lib/site-packages', { console: LAUNCHER, gui: LAUNCHER });
      expect(written.sort()).toEqual(['helper.bat', 'tool.exe']);
      expect(existsSync(path.join(dir, 'Lib/site-packages/bin'))).toBe(false);
      expect(readFileSync(path.join(dir, 'Scripts/helper.bat'), 'utf8')).toBe('@echo off\r\n');
      const lines = readFileSync(path.join(dir, 'Lib/site-packages/pkg-1.0.dist-info/RECORD'), 'utf8').split('\n');
      expect(lines[1]).toMatch(/^\.\.\/\.\.\/Scripts\/tool\.exe,sha256=[A-Za-z0-9_-]{43},\d+$/);
      expect(lines[2]).toMatch(/^\.\.\/\.\.\/Scripts\/helper\.bat,sha256=/);
    } finally {
      cleanup();
    }
  });
});
