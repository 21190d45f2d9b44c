import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { windowsCPythonArchive, WINPYTHON_SDIST } from '../testing/windows';
import { makeToolWorkspace, nxWith } from './helpers';

jest.setTimeout(900_000);

/**
 * The seed's studio, reproduced on a Linux agent (docs/WINDOWS.md): one
 * environment declared for Linux and Windows, built and published by
 * `nx run-many -t publish` with no Windows machine, then run under Wine
 * from two drive letters at once: J: on the depot as published, K: on a
 * moved copy under a path with spaces and a non-ASCII name, the current
 * directory elsewhere, a host's PYTHONHOME set. Its Python is a real
 * Windows CPython (3.11.9, from a pinned sdist on PyPI) that the workspace
 * maps "3.11" to for Windows, as a studio maps it to its own MSI or NuGet.
 */
describe('a Windows environment built on Linux, run under Wine from any drive letter', () => {
  const { ws, dir, cleanup, spec } = makeToolWorkspace(['1.0.0', '2.0.0']);
  afterAll(cleanup);
  const prefix = path.join(dir, 'wine'); // one Wine prefix for the whole suite (the gate's runs too)
  const wineEnv = { WINEPREFIX: prefix, WINEDEBUG: '-all', WINEDLLOVERRIDES: 'mscoree,mshtml=' };
  const depot = path.join(ws, 'dist/depot');
  const kShare = path.join(dir, 'K share', 'dépôt');
  const elsewhere = path.join(dir, 'elsewhere');
  const body = (tool: string) => ({
    python: '3.11',
    platforms: ['linux', 'windows'],
    // The VFX Reference Platform CY2025 pair (numpy 2.2+ aborts under Wine 8: a limit of the test bed).
    packages: ['pillow==11.3.0', 'numpy==1.26.4', `hello-tool==${tool}`],
    index: { findLinks: ['../../wheels'] },
    verify: { imports: ['PIL.Image', 'numpy'], commands: [['hello-tool']] },
  });
  const wine = (exe: string, args: string[] = [], env: NodeJS.ProcessEnv = {}) => {
    // Always through pipes: Wine cannot give a console program a redirected file as a standard stream.
    const r = spawnSync('wine', [exe, ...args], { cwd: elsewhere, env: { ...process.env, ...wineEnv, ...env }, encoding: 'utf8' });
    return { status: r.status, out: r.stdout.replace(/\r/g, ''), err: r.stderr.replace(/\r/g, '') };
  };
  const current = (platformDepot: string, name = 'imaging') => (JSON.parse(readFileSync(path.join(platformDepot, name, 'current.json'), 'utf8')) as { version: string }).version;
  const publish = () => {
    const r = nxWith(wineEnv, ws, 'run-many', '-t', 'publish');
    if (r.status !== 0) throw new Error(r.out);
    return r.out;
  };
  let v1 = '';
  let linux1 = '';
  let runtimeId = '';

  beforeAll(async () => {
    mkdirSync(elsewhere);
    const fixture = await windowsCPythonArchive();
    const nxJson = JSON.parse(readFileSync(path.join(ws, 'nx.json'), 'utf8'));
    nxJson.plugins[0].options.pythons = { windows: { '3.11': { archive: fixture.url, sha256: fixture.sha256 } } };
    writeFileSync(path.join(ws, 'nx.json'), JSON.stringify(nxJson, null, 2));
    spec('imaging', body('1.0.0'));
    const out = publish();
    expect(out).toMatch(/nx run imaging:publish-windows/);
    expect(out).toMatch(/checks passed, audit clean/);
    v1 = current(path.join(depot, 'windows'));
    linux1 = current(depot);
    runtimeId = readdirSync(path.join(depot, 'windows', '_runtimes')).find((n) => n.startsWith(`cpython-${WINPYTHON_SDIST.version}-win32-x64-`))!;
    expect(runtimeId).toBeTruthy();
    // J: is the depot as published; K: a moved copy under a path with a space and a non-ASCII name.
    mkdirSync(path.dirname(kShare), { recursive: true });
    cpSync(path.join(depot, 'windows'), kShare, { recursive: true, verbatimSymlinks: true });
    const devices = path.join(prefix, 'dosdevices');
    mkdirSync(devices, { recursive: true });
    symlinkSync(path.join(depot, 'windows'), path.join(devices, 'j:'));
    symlinkSync(kShare, path.join(devices, 'k:'));
  });

  it('builds both platforms through Nx into their own depot folders, the Windows one a venv on a shared runtime', () => {
    expect(linux1).toMatch(/^[0-9a-f]{16}$/);
    expect(v1).toMatch(/^[0-9a-f]{16}$/);
    const version = path.join(depot, 'windows', 'imaging', v1);
    for (const file of ['pyvenv.cfg', 'Scripts/python.exe', 'Scripts/pythonw.exe', 'Scripts/hello-tool.exe', 'Scripts/activate.bat', 'Scripts/Activate.ps1', 'Lib/site-packages/numpy/__init__.py']) {
      expect(existsSync(path.join(version, file))).toBe(true);
    }
    expect(readFileSync(path.join(version, 'pyvenv.cfg'), 'utf8')).toContain(`home = ..\\..\\_runtimes\\${runtimeId}`);
    // The stable path hosts put on %PATH%: launcher copies that start what is current.
    expect(readdirSync(path.join(depot, 'windows', 'imaging', 'Scripts')).sort()).toEqual(['f2py.exe', 'hello-tool.exe', 'python.exe', 'pythonw.exe']);
    // The Linux version is where it always was, on its own runtime.
    expect(existsSync(path.join(depot, 'imaging', linux1, 'bin', 'python'))).toBe(true);
  });

  it('runs from K: (moved, spaces, non-ASCII) and J: at once: Pillow opens, converts and saves an image, numpy computes, a host PYTHONHOME is ignored', () => {
    const image = `Z:${elsewhere.replace(/\//g, '\\')}\\ramp.png`;
    const script = [
      'import os, sys, numpy, PIL.Image',
      'out = sys.argv[1]',
      "PIL.Image.new('RGB', (8, 4), (200, 100, 50)).save(out)",
      "gray = PIL.Image.open(out).convert('L')",
      "gray.save(out[:-4] + '-gray.png')",
      "print(sys.prefix, gray.getpixel((0, 0)), int(numpy.arange(10).sum()), round(float(numpy.linalg.det(numpy.eye(3) * 2)), 6), os.environ.get('PYTHONHOME'))",
    ].join('\n');
    const host = { PYTHONHOME: 'C:\\Program Files\\Autodesk\\3ds Max 2025\\python', PYTHONPATH: 'C:\\Program Files\\Autodesk\\3ds Max 2025\\python\\Lib' };
    const k = wine('K:\\imaging\\Scripts\\python.exe', ['-c', script, image], host);
    expect(k.err).toBe('');
    expect(k.out.trim()).toBe(`K:\\imaging\\${v1} 124 45 8.0 ${host.PYTHONHOME}`);
    expect(statSync(path.join(elsewhere, 'ramp-gray.png')).size).toBeGreaterThan(0);
    const j = wine('J:\\imaging\\Scripts\\python.exe', ['-c', 'import sys, PIL; print(sys.prefix, sys._base_executable)']);
    expect(j.out.trim()).toBe(`J:\\imaging\\${v1} J:\\_runtimes\\${runtimeId}\\python.exe`);
  });

  it('runs the console script from K:, through the stable path and in its version folder', () => {
    expect(wine('K:\\imaging\\Scripts\\hello-tool.exe').out.trim()).toBe('hello-tool 1.0.0');
    expect(wine(`K:\\imaging\\${v1}\\Scripts\\hello-tool.exe`).out.trim()).toBe('hello-tool 1.0.0');
  });

  it('makes a working venv with `python -m venv` from K:', () => {
    const venv = `Z:${elsewhere.replace(/\//g, '\\')}\\made-here`;
    const made = wine('K:\\imaging\\Scripts\\python.exe', ['-m', 'venv', '--without-pip', venv]);
    expect(made.status).toBe(0);
    const r = wine(`${venv}\\Scripts\\python.exe`, ['-c', 'import sys, json; print(sys.prefix == sys.base_prefix, sys.base_prefix)']);
    expect(r.out.trim()).toBe(`False K:\\_runtimes\\${runtimeId}`);
  });

  it('shows the test bed sees the seed\'s problem: a plain venv made on J: fails for an artist who has the share on K: only; pydepot\'s runs there', () => {
    const made = wine(`J:\\_runtimes\\${runtimeId}\\python.exe`, ['-m', 'venv', '--without-pip', 'J:\\plain-venv']);
    expect(made.status).toBe(0);
    const j = path.join(prefix, 'dosdevices', 'j:');
    try {
      cpSync(path.join(depot, 'windows', 'plain-venv'), path.join(kShare, 'plain-venv'), { recursive: true });
      expect(wine('J:\\plain-venv\\Scripts\\python.exe', ['-c', 'print(1)']).out.trim()).toBe('1');
      rmSync(j); // the second artist: the share is K:, there is no J:
      const moved = wine('K:\\plain-venv\\Scripts\\python.exe', ['-c', 'print(1)']);
      expect(moved.status).not.toBe(0);
      expect(moved.err).toContain(`No Python at '"J:\\_runtimes\\${runtimeId}\\python.exe'`);
      expect(wine('K:\\imaging\\Scripts\\python.exe', ['-c', 'import PIL, numpy, sys; print(sys.prefix)']).out.trim()).toBe(`K:\\imaging\\${v1}`);
    } finally {
      if (!existsSync(j)) symlinkSync(path.join(depot, 'windows'), j);
      rmSync(path.join(depot, 'windows', 'plain-venv'), { recursive: true, force: true });
      rmSync(path.join(kShare, 'plain-venv'), { recursive: true, force: true });
    }
  });

  it('holds no build path, in Linux or Windows form, UTF-8 or UTF-16, in the Windows version or its runtime', () => {
    const needles = [ws, dir, ws.replace(/\//g, '\\'), dir.replace(/\//g, '\\')].flatMap((n) => [Buffer.from(n, 'utf8'), Buffer.from(n, 'utf16le')]);
    const found: string[] = [];
    const visit = (p: string) => {
      for (const e of readdirSync(p, { withFileTypes: true })) {
        const full = path.join(p, e.name);
        if (e.isDirectory()) visit(full);
        else if (e.isFile() && !['pydepot.json', 'sbom.cdx.json'].includes(e.name)) {
          const data = readFileSync(full);
          if (needles.some((n) => data.includes(n))) found.push(path.relative(depot, full));
        }
      }
    };
    visit(path.join(depot, 'windows', 'imaging', v1));
    visit(path.join(depot, 'windows', '_runtimes', runtimeId));
    expect(found).toEqual([]);
  });

  it('rolls the Windows version back while the Linux version of the same environment stays current and runs', () => {
    spec('imaging', body('2.0.0'));
    publish();
    const v2 = current(path.join(depot, 'windows'));
    const linux2 = current(depot);
    expect(v2).not.toBe(v1);
    expect(linux2).not.toBe(linux1);
    expect(wine('J:\\imaging\\Scripts\\hello-tool.exe').out.trim()).toBe('hello-tool 2.0.0');
    const back = nxWith(wineEnv, ws, 'run', 'imaging:rollback-windows');
    expect(back.status).toBe(0);
    expect(current(path.join(depot, 'windows'))).toBe(v1);
    expect(wine('J:\\imaging\\Scripts\\hello-tool.exe').out.trim()).toBe('hello-tool 1.0.0');
    expect(wine('J:\\imaging\\Scripts\\python.exe', ['-c', 'import sys; print(sys.prefix)']).out.trim()).toBe(`J:\\imaging\\${v1}`);
    // Linux: untouched by the Windows rollback.
    expect(current(depot)).toBe(linux2);
    expect(execFileSync(path.join(depot, 'imaging', 'current', 'bin', 'hello-tool'), { encoding: 'utf8' }).trim()).toBe('hello-tool 2.0.0');
    const verified = nxWith(wineEnv, ws, 'run', 'imaging:verify-windows');
    expect(verified.out).toMatch(new RegExp(`imaging ${v1}: 3 checks passed, audit clean`));
  });

  it('publishes the self-contained fallback: a private copy whose python.exe is the launcher, hermetic', () => {
    spec('imaging-copy', { python: '3.11', platforms: ['windows'], layout: 'self-contained', packages: ['hello-tool==1.0.0'], verify: { imports: ['hello_tool'], commands: [['hello-tool']] } });
    const published = nxWith(wineEnv, ws, 'run', 'imaging-copy:publish');
    expect(published.status).toBe(0);
    const version = current(path.join(depot, 'windows'), 'imaging-copy');
    const root = path.join(depot, 'windows', 'imaging-copy', version);
    expect(existsSync(path.join(root, 'python311.dll'))).toBe(true);
    expect(existsSync(path.join(root, 'pyvenv.cfg'))).toBe(false);
    const r = wine(`J:\\imaging-copy\\${version}\\python.exe`, ['-c', 'import sys, hello_tool; print(sys.prefix)'], { PYTHONHOME: 'C:\\nowhere' });
    expect(r.out.trim()).toBe(`J:\\imaging-copy\\${version}`);
    expect(wine(`J:\\imaging-copy\\${version}\\Scripts\\hello-tool.exe`).out.trim()).toBe('hello-tool 1.0.0');
  });

  it('locks and downloads a wheelhouse per platform, and installs the Windows version air-gapped from its own lock', () => {
    const locked = nxWith(wineEnv, ws, 'run', 'imaging:lock-windows');
    expect(locked.status).toBe(0);
    const lock = readFileSync(path.join(ws, 'environments/imaging/requirements.windows.lock'), 'utf8');
    expect(lock).toMatch(/for CPython 3\.11 on x86_64-pc-windows-msvc/);
    expect(lock).toMatch(/^numpy==1\.26\.4 \\$/m);
    expect(existsSync(path.join(ws, 'environments/imaging/requirements.lock'))).toBe(false);
    const house = nxWith(wineEnv, ws, 'run', 'imaging:wheelhouse-windows');
    expect(house.status).toBe(0);
    expect(readdirSync(path.join(ws, 'dist/wheelhouse/windows/imaging'))).toContain('numpy-1.26.4-cp311-cp311-win_amd64.whl');
    const offline = nxWith({ ...wineEnv, PYDEPOT_WHEELHOUSE: 'dist/wheelhouse' }, ws, 'run', 'imaging:install-windows', '--skip-nx-cache');
    expect(offline.status).toBe(0);
    expect(offline.out).toMatch(/PYDEPOT_WHEELHOUSE is set: installing from .*dist\/wheelhouse\/windows\/imaging only/);
    expect(offline.out).toMatch(/installing requirements\.windows\.lock for win_amd64/);
    rmSync(path.join(ws, 'environments/imaging/requirements.windows.lock'));
  });

  it('refuses, naming the package and the platform, a package that ships no Windows wheel; and names nx.json for a Python it has no Windows source for', () => {
    const sdist = path.join(dir, 'sdist-src');
    mkdirSync(path.join(sdist, 'sourceonly-1.0'), { recursive: true });
    writeFileSync(path.join(sdist, 'sourceonly-1.0', 'PKG-INFO'), 'Metadata-Version: 2.1\nName: sourceonly\nVersion: 1.0\n');
    writeFileSync(path.join(sdist, 'sourceonly-1.0', 'setup.py'), 'from setuptools import setup\nsetup(name="sourceonly", version="1.0")\n');
    execFileSync('tar', ['-czf', path.join(ws, 'wheels', 'sourceonly-1.0.tar.gz'), '-C', sdist, 'sourceonly-1.0']);
    spec('from-source', { python: '3.11', platforms: ['windows'], packages: ['sourceonly==1.0'] });
    const refused = nxWith(wineEnv, ws, 'run', 'from-source:install-windows');
    expect(refused.status).not.toBe(0);
    expect(refused.out).toMatch(/package sourceonly==1\.0 has no win_amd64 wheel for CPython 3\.11/);
    expect(refused.out).toMatch(/environments\/from-source\/environment\.json/);
    spec('unmapped', { python: '3.12', platforms: ['windows'], packages: [] });
    const unmapped = nxWith(wineEnv, ws, 'run', 'unmapped:publish');
    expect(unmapped.status).not.toBe(0);
    expect(unmapped.out).toMatch(/no windows CPython 3\.12 is configured for this workspace/);
    expect(unmapped.out).toMatch(/"pythons": \{"windows": \{"3\.12"/);
  });
});
