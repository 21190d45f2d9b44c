import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { auditTree, isolatedPythonEnv } from '../../libs/core/src';
import { pyenvPython } from '../testing';
import { grepText, makeWorkspace, nx } from './helpers';

jest.setTimeout(1_500_000);

/**
 * A studio's real stack, built through Nx exactly as a user would (the
 * README's generator command, then publish), published, then run moved into
 * a path with spaces and non-ASCII, read-only, as another user, with the
 * workspace and the source CPython hidden and a host application's Python
 * variables set (PYTHONHOME, a PYTHONPATH at another Python's stdlib, ...).
 *
 * The corpus: PySide6-Essentials (ships *.tmpl.py templates that do not
 * compile; a QGuiApplication renders offscreen), numpy (a slice of its own
 * test suite, compared with a plain venv), and an sdist-only package whose C
 * extension is built at install time with RUNPATHs a build backend adds.
 */
const PINS = ['PySide6-Essentials==6.12.0', 'numpy==2.4.6', 'pytest==9.2.0', 'hypothesis==6.170.17', 'cext-demo==1.0.0'];
const NUMPY_SLICE = ['--pyargs', 'numpy._core.tests.test_numeric', '-q', '-p', 'no:cacheprovider', '-o', 'addopts='];

/** An sdist (no wheel) with a C extension whose setup.py adds RUNPATHs: the env's lib by absolute path and a build-only folder. */
function writeSdist(dir: string, name: string, addRunpaths = true): void {
  const root = path.join(dir, `${name.replace(/-/g, '_')}-1.0.0`);
  const module = name.replace(/-/g, '_');
  mkdirSync(path.join(root, 'src'), { recursive: true });
  writeFileSync(path.join(root, 'PKG-INFO'), `Metadata-Version: 2.1\nName: ${name}\nVersion: 1.0.0\n`);
  writeFileSync(path.join(root, 'pyproject.toml'), '[build-system]\nrequires = ["setuptools==84.2.1"]\nbuild-backend = "setuptools.build_meta"\n');
  writeFileSync(
    path.join(root, 'setup.py'),
    `import os, sys
from setuptools import setup, Extension
rpath = ${addRunpaths ? '["-Wl,-rpath," + os.path.join(sys.prefix, "lib"), "-Wl,-rpath,/tmp/pydepot-build-only/lib"]' : '[]'}
setup(name="${name}", version="1.0.0", ext_modules=[Extension("${module}", ["src/${module}.c"], extra_link_args=rpath)])
`,
  );
  writeFileSync(
    path.join(root, 'src', `${module}.c`),
    `#include <Python.h>
static PyObject *add(PyObject *self, PyObject *args) { long a, b; if (!PyArg_ParseTuple(args, "ll", &a, &b)) return NULL; return PyLong_FromLong(a + b); }
static PyMethodDef methods[] = {{"add", add, METH_VARARGS, "add"}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, "${module}", NULL, -1, methods};
PyMODINIT_FUNC PyInit_${module}(void) { return PyModule_Create(&mod); }
`,
  );
  execFileSync('tar', ['-czf', `${path.basename(root)}.tar.gz`, path.basename(root)], { cwd: dir });
}

/** What the published interpreter sees and can do, as JSON (run as nobody, read-only, hostile variables). */
const PROBE = String.raw`
import json, os, subprocess, sys, sysconfig, venv
out = sys.argv[1]
report = {"executable": sys.executable, "prefix": sys.prefix, "path": sys.path, "purelib": sysconfig.get_paths()["purelib"],
          "pythonhome_for_children": os.environ.get("PYTHONHOME"), "user": os.getuid()}
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter
app = QGuiApplication([])
image = QImage(64, 48, QImage.Format_RGB32)
image.fill(QColor("white"))
painter = QPainter(image)
painter.fillRect(8, 8, 20, 20, QColor(255, 0, 0))
painter.end()
png = os.path.join(out, "qt.png")
report["qt_saved"] = image.save(png)
again = QImage(png)
report["qt_pixel"] = [again.pixelColor(10, 10).red(), again.pixelColor(40, 40).green()]
report["qt_platform"] = app.platformName()
import cext_demo
report["cext"] = cext_demo.add(2, 3)
import pytest
report["numpy_tests"] = pytest.main(sys.argv[2:] + ["--junitxml", os.path.join(out, "numpy.xml")])
for kind, symlinks in (("copies", False), ("symlinks", True)):
    target = os.path.join(out, "venv-" + kind)
    venv.create(target, symlinks=symlinks)
    r = subprocess.run([os.path.join(target, "bin", "python"), "-c", "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix]))"], capture_output=True, text=True)
    report["venv_" + kind] = [r.returncode, r.stdout.strip(), r.stderr[-400:]]
r = subprocess.run(["somethingyoudonthave", "-c", "import sys; print(sys.prefix)"], executable=sys.executable, cwd="/", capture_output=True, text=True)
report["argv0_unresolvable"] = [r.returncode, r.stdout.strip(), r.stderr[-400:]]
print(json.dumps(report))
`;

function junitCounts(file: string): Record<string, number> {
  const xml = readFileSync(file, 'utf8');
  const suite = /<testsuite [^>]*>/.exec(xml)?.[0] ?? '';
  const attr = (name: string) => Number(new RegExp(`${name}="(\\d+)"`).exec(suite)?.[1] ?? NaN);
  return { tests: attr('tests'), failures: attr('failures'), errors: attr('errors'), skipped: attr('skipped') };
}

describe('a studio stack through Nx: PySide6, numpy, an sdist with a C extension', () => {
  const { ws, cleanup } = makeWorkspace();
  afterAll(cleanup);
  const dir = path.dirname(ws);
  const source = realpathSync(path.dirname(path.dirname(pyenvPython('3.12'))));
  const sdists = path.join(ws, 'sdists');
  mkdirSync(sdists);
  writeSdist(sdists, 'cext-demo');
  let published = '';
  let out = '';

  it('generates the spec with `nx g` as the README shows, and publishes it: templates skipped, RUNPATHs fixed, audit clean', () => {
    // The README's command, verbatim but for the name and the packages.
    const generated = spawnSync('npx', ['nx', 'g', '@pydepot/nx-plugin:environment', 'studio', '--python', '3.12', '--packages', PINS.join(',')], { cwd: ws, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } });
    expect({ status: generated.status, out: generated.status ? generated.stdout + generated.stderr : '' }).toEqual({ status: 0, out: '' });
    const specFile = path.join(ws, 'environments/studio/environment.json');
    const spec = JSON.parse(readFileSync(specFile, 'utf8'));
    expect(spec).toMatchObject({ python: '3.12', packages: PINS, verify: { importPackages: true } });
    writeFileSync(specFile, JSON.stringify({ ...spec, index: { findLinks: ['../../sdists'] } }, null, 2));

    const result = nx(ws, 'run', 'studio:publish');
    expect({ status: result.status, out: result.status ? result.out : '' }).toEqual({ status: 0, out: '' });
    // PySide6's Jinja templates are left without bytecode, as pip leaves them.
    expect(result.out).toMatch(/warning: \d+ files? did not compile for Python 3\.12 .*tmpl\.py/);
    expect(result.out).toMatch(/made 1 compiled file\(s\) relocatable:\n.*cext_demo.*: RUNPATH \S+ → \$ORIGIN\/\.\.\/\.\./);
    published = realpathSync(path.join(ws, 'dist/depot/studio/current'));
    const verify = nx(ws, 'run', 'studio:verify');
    expect({ status: verify.status, out: verify.status ? verify.out : '' }).toEqual({ status: 0, out: '' });
    // Import names from the installed metadata: PySide6-Essentials → PySide6, cext-demo → cext_demo.
    expect(verify.out).toMatch(/import PySide6\b/);
    expect(verify.out).toMatch(/import cext_demo\b/);
  });

  it('holds no build path: audit and grep of the published tree', async () => {
    expect(await auditTree(published, [ws, source, realpathSync(ws)])).toEqual([]);
    expect(grepText(published, ws)).toEqual([]);
    const so = execFileSync('find', [published, '-name', 'cext_demo*.so']).toString().trim();
    const dynamic = execFileSync('readelf', ['-d', so]).toString();
    expect(dynamic).not.toMatch(/pydepot-build-only/);
    expect(/R(UN)?PATH.*\[(.*)\]/.exec(dynamic)?.[2] ?? '').toMatch(/^(\$ORIGIN[^:]*)?$/);
  });

  it('runs moved, read-only, as another user, under a host application\'s Python variables, with the workspace and the source CPython hidden', () => {
    const share = path.join(dir, 'share', 'Tööls Share');
    // The depot moves as a whole (a share mounted elsewhere): the environment finds its runtime in it.
    const moved = path.join(share, 'depot');
    mkdirSync(share, { recursive: true });
    cpSync(path.join(ws, 'dist/depot'), moved, { recursive: true, verbatimSymlinks: true });
    const env = path.join(moved, 'studio', path.basename(published));
    const runtime = path.resolve(env, JSON.parse(readFileSync(path.join(env, 'pydepot.json'), 'utf8')).runtime.path);
    out = path.join(dir, 'out');
    mkdirSync(out);
    const probe = path.join(dir, 'probe.py');
    writeFileSync(probe, PROBE);
    chmodSync(dir, 0o755); // mkdtemp's 0700 would keep nobody out
    chmodSync(out, 0o777);
    chmodSync(probe, 0o644);
    const script = `
set -eu
mount --bind "$MOVED" "$MOVED"
mount -o remount,bind,ro "$MOVED"
mount -t tmpfs none "$WS"
mount -t tmpfs none "$SRC"
cd "$OUT"
setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin HOME=/nonexistent QT_QPA_PLATFORM=offscreen \
  PYTHONHOME=/usr PYTHONPATH=/usr/lib/python3.11 PYTHONSTARTUP=/etc/passwd PYTHONUSERBASE=/tmp PYTHONEXECUTABLE=/usr/bin/python3 \
  "$ENV/bin/python" "$PROBE" "$OUT" ${NUMPY_SLICE.join(' ')} > "$OUT/report.json" 2> "$OUT/stderr.txt"
`;
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, MOVED: moved, ENV: path.join(moved, 'studio/current'), WS: ws, SRC: source, PROBE: probe, OUT: out },
      encoding: 'utf8',
    });
    const stderr = readFileSync(path.join(out, 'stderr.txt'), 'utf8');
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    const lines = readFileSync(path.join(out, 'report.json'), 'utf8').trim().split('\n');
    const report = JSON.parse(lines[lines.length - 1]);
    const inside = (p: string) => p === moved || p.startsWith(`${moved}/`);
    expect({ user: report.user, exe: report.executable, prefix: report.prefix, purelib: report.purelib }).toEqual({
      user: 65534,
      exe: path.join(env, 'bin/python'),
      prefix: env,
      purelib: path.join(env, 'lib/python3.12/site-packages'),
    });
    // The host's PYTHONPATH (another Python's stdlib) is not on sys.path; children get the variables back.
    expect(report.path.filter((p: string) => !inside(p) && p !== path.dirname(probe))).toEqual([]);
    expect(report.pythonhome_for_children).toBe('/usr');
    expect({ saved: report.qt_saved, pixel: report.qt_pixel, platform: report.qt_platform }).toEqual({ saved: true, pixel: [255, 255], platform: 'offscreen' });
    expect(report.cext).toBe(5);
    expect(report.numpy_tests).toBe(0);
    expect(report.venv_copies[0]).toBe(0);
    // A venv made from the environment is based on its runtime, as a venv made from a venv is based on its base.
    expect(JSON.parse(report.venv_copies[1])).toEqual([path.join(out, 'venv-copies'), runtime]);
    expect(report.venv_symlinks[0]).toBe(0);
    expect(JSON.parse(report.venv_symlinks[1])).toEqual([path.join(out, 'venv-symlinks'), runtime]);
    expect(report.argv0_unresolvable.slice(0, 2)).toEqual([0, env]);
    expect(stderr).not.toMatch(/Traceback|Fatal Python error/);
  });

  it("numpy's test slice gives exactly the results of a plain venv of the source CPython", () => {
    const plain = path.join(dir, 'plain-venv');
    execFileSync(pyenvPython('3.12'), ['-m', 'venv', plain]);
    execFileSync(path.join(plain, 'bin/python'), ['-m', 'pip', 'install', '-q', ...PINS.filter((p) => /^(numpy|pytest|hypothesis)==/.test(p))], { env: isolatedPythonEnv(), stdio: 'pipe' });
    const xml = path.join(dir, 'plain-numpy.xml');
    spawnSync(path.join(plain, 'bin/python'), ['-m', 'pytest', ...NUMPY_SLICE, '--junitxml', xml], { cwd: out, env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME }, encoding: 'utf8' });
    const published = junitCounts(path.join(out, 'numpy.xml'));
    expect(published.tests).toBeGreaterThan(500);
    expect(published).toEqual(junitCounts(xml));
  });

  it('builds a C extension inside a moved copy whose path has spaces and non-ASCII characters, under a host PYTHONHOME', () => {
    const depotCopy = path.join(dir, 'share', 'Tööls Share', 'writable depot');
    cpSync(path.join(ws, 'dist/depot'), depotCopy, { recursive: true, verbatimSymlinks: true });
    const copy = path.join(depotCopy, 'studio', path.basename(published));
    const runtime = path.resolve(copy, JSON.parse(readFileSync(path.join(copy, 'pydepot.json'), 'utf8')).runtime.path);
    // No RUNPATH of its own: whatever it gets would come from the environment's sysconfig.
    writeSdist(sdists, 'cext-inside', false);
    const wheels = path.join(dir, 'build-wheels');
    const pipEnv = isolatedPythonEnv();
    execFileSync(path.join(copy, 'bin/python'), ['-m', 'pip', 'download', '-q', '-d', wheels, 'setuptools==84.2.1'], { env: pipEnv, stdio: 'pipe' });
    const hostile = { ...pipEnv, PYTHONDONTWRITEBYTECODE: undefined, PYTHONHOME: '/usr', PYTHONPATH: '/usr/lib/python3.11' };
    // pip's build isolation passes its build requirements through PYTHONPATH: that must still work.
    execFileSync(path.join(copy, 'bin/python'), ['-m', 'pip', 'install', '-q', '--no-index', '--find-links', wheels, '--find-links', sdists, 'cext-inside'], { env: hostile, cwd: '/', stdio: 'pipe' });
    expect(execFileSync(path.join(copy, 'bin/python'), ['-c', 'import cext_inside; print(cext_inside.add(20, 22))'], { env: hostile, cwd: '/' }).toString().trim()).toBe('42');
    const so = execFileSync('find', [copy, '-name', 'cext_inside*.so']).toString().trim();
    expect(execFileSync('readelf', ['-d', so]).toString()).not.toMatch(/R(UN)?PATH.*\//);
    // The headers are the runtime's (a venv's include path is its base's).
    expect(execFileSync(path.join(runtime, 'bin/python3.12-config'), ['--includes']).toString().trim()).toBe(`-I'${runtime}'/include/python3.12 -I'${runtime}'/include/python3.12`);
  });
});
