import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { pyenvPython, python, testdir } from '../../../../tools/testing';
import { activatorFiles } from './activators';
import { pythonPath, scriptsPath, WINDOWS_LAYOUT } from './layout';
import { relativeWindowsLauncher } from './scripts';

/** A console-script launcher exactly as pip writes it on Windows, from pip's own distlib launcher. */
function pipLauncher(shebang: string, kind: 't64' | 'w64' = 't64'): Buffer {
  const { dir, cleanup } = testdir();
  const distlib = path.join(path.dirname(path.dirname(pyenvPython('3.12'))), 'lib/python3.12/site-packages/pip/_vendor/distlib');
  python(
    `
import io, sys, zipfile
launcher = open(sys.argv[1], 'rb').read()
buf = io.BytesIO()
with zipfile.ZipFile(buf, 'w') as z:
    z.writestr('__main__.py', 'import sys\\nfrom rich.cli import main\\nsys.exit(main())\\n')
open(sys.argv[3], 'wb').write(launcher + sys.argv[2].encode() + b'\\n' + buf.getvalue())
`,
    [path.join(distlib, `${kind}.exe`), shebang, path.join(dir, 'launcher.exe')],
  );
  try {
    return readFileSync(path.join(dir, 'launcher.exe'));
  } finally {
    cleanup();
  }
}

describe('Windows layout', () => {
  it('puts python.exe at the root and scripts in Scripts\\', () => {
    expect(pythonPath('J:\\Tools\\depot\\maxscript\\current', WINDOWS_LAYOUT)).toBe('J:\\Tools\\depot\\maxscript\\current\\python.exe');
    expect(scriptsPath('\\\\studio\\tools\\maxscript\\v1', WINDOWS_LAYOUT)).toBe('\\\\studio\\tools\\maxscript\\v1\\Scripts');
    expect(WINDOWS_LAYOUT.sitePackages('3.12')).toBe('Lib/site-packages');
    expect(WINDOWS_LAYOUT.pathEntries).toEqual(['.', 'Scripts']);
  });

  it.each([
    ['a plain path', '#!C:\\BuildAgent\\ws\\dist\\pydepot\\tool\\env\\python.exe', 't64', 'python.exe'],
    ['a quoted path with spaces', '#!"C:\\Build Agent\\ws\\dist\\pydepot\\tool\\env\\python.exe"', 't64', 'python.exe'],
    ['a GUI launcher', '#!"C:\\Build Agent\\env\\pythonw.exe"', 'w64', 'pythonw.exe'],
  ] as const)("rewrites pip's launcher with %s to find the interpreter next to itself", (_what, shebang, kind, exe) => {
    const launcher = pipLauncher(shebang, kind);
    const relative = relativeWindowsLauncher(launcher)!;
    expect(relative).toBeDefined();
    expect(relative.includes(Buffer.from(`#!<launcher_dir>\\..\\${exe}\r\n`))).toBe(true);
    expect(relative.includes(Buffer.from('Build'))).toBe(false);
    // The launcher part is untouched and the appended zip still reads (zipimport is what runs it).
    expect(relative.subarray(0, 4096).equals(launcher.subarray(0, 4096))).toBe(true);
    const { dir, cleanup } = testdir({ 'tool.exe': relative });
    try {
      expect(python(`import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read('__main__.py').decode())`, [path.join(dir, 'tool.exe')])).toContain('from rich.cli import main');
    } finally {
      cleanup();
    }
  });

  it('leaves other executables alone', () => {
    expect(relativeWindowsLauncher(Buffer.from('MZ not a launcher'))).toBeUndefined();
    expect(relativeWindowsLauncher(Buffer.alloc(100))).toBeUndefined();
  });

  it('writes cmd and PowerShell activators that find the environment from their own folder', () => {
    const files = activatorFiles(WINDOWS_LAYOUT, 'maxscript-imaging');
    expect(Object.keys(files)).toEqual(['Scripts/activate.bat', 'Scripts/deactivate.bat', 'Scripts/Activate.ps1']);
    const bat = files['Scripts/activate.bat'];
    expect(bat).toContain('for %%I in ("%~dp0..") do set "PYDEPOT_ENV=%%~fI"');
    expect(bat).toContain('set "PATH=%PYDEPOT_ENV%;%PYDEPOT_ENV%\\Scripts;%PATH%"');
    expect(bat.split('\n').every((line) => line === '' || line.endsWith('\r'))).toBe(true);
    expect(files['Scripts/Activate.ps1']).toContain('Join-Path $PSScriptRoot ".."');
    for (const text of Object.values(files)) expect(text).not.toMatch(/[A-Z]:\\\\(?!\\\\)|\/work\/|\/tmp\//);
  });
});

describe('POSIX activate', () => {
  it('activates from wherever it is reached and deactivates cleanly (bash)', () => {
    const files = activatorFiles({ ...WINDOWS_LAYOUT, os: 'posix', scriptsDir: 'bin', python: 'bin/python', pathEntries: ['bin'] }, 'tool');
    const { dir, cleanup } = testdir({ 'share/tool/v1/bin/activate': files['bin/activate'] });
    try {
      execFileSync('ln', ['-s', path.join(dir, 'share/tool/v1'), path.join(dir, 'current')]);
      const out = execFileSync('bash', ['-c', `PATH=/usr/bin:/bin; cd /; . "${dir}/current/bin/activate"; echo "$PYDEPOT_ENV|$PYDEPOT_ENV_NAME|\${PATH%%:*}|$PYTHONNOUSERSITE"; deactivate; echo "$PATH|\${PYDEPOT_ENV:-unset}|\${PYTHONNOUSERSITE:-unset}"`]).toString();
      // Pinned: the shell runs the version it activated (current resolved once), until it activates again.
      expect(out).toBe(`${dir}/share/tool/v1|tool|${dir}/share/tool/v1/bin|1\n/usr/bin:/bin|unset|unset\n`);
      expect(readFileSync(path.join(dir, 'share/tool/v1/bin/activate'), 'utf8')).not.toContain(dir);
    } finally {
      cleanup();
    }
  });
});
