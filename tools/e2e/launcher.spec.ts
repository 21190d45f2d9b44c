import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pyenvPython, writeFiles } from '../testing';
import { makeToolWorkspace, nxWith } from './helpers';

jest.setTimeout(600_000);

/**
 * The launcher is security code: it runs in every artist's process. One
 * environment on a shared runtime, published through Nx, then started the
 * ways a studio starts it (a file symlink in ~/bin, relative and chained
 * links) and the ways a host or a damaged share hurts it (a start-up file,
 * a PYTHONPATH that shadows pip, a pyvenv.cfg line longer than any buffer, a
 * runtime whose libpython is gone while another one is on LD_LIBRARY_PATH).
 */
describe('the launcher', () => {
  const { ws, dir, cleanup, spec } = makeToolWorkspace();
  afterAll(cleanup);
  spec('tool', { python: '3.12', packages: ['hello-tool==1.0.0'], pythonPath: 'append' });
  const depot = path.join(ws, 'dist/depot');
  let version = '';
  const run = (file: string, args: string[], env: NodeJS.ProcessEnv = {}, input?: string) => {
    const r = spawnSync(file, args, { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir, ...env }, input, encoding: 'utf8' });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };

  beforeAll(() => {
    const published = nxWith({}, ws, 'run', 'tool:publish');
    if (published.status !== 0) throw new Error(published.out);
    version = realpathSync(path.join(depot, 'tool/current'));
  });

  it('runs its environment through a file symlink placed elsewhere: absolute, relative and chained, with normal venv semantics', () => {
    const bin = path.join(dir, 'home-bin');
    mkdirSync(bin);
    symlinkSync(path.join(depot, 'tool/current/bin/python'), path.join(bin, 'toolpy'));
    symlinkSync(path.relative(bin, path.join(depot, 'tool/current/bin/python3')), path.join(bin, 'toolpy-rel'));
    symlinkSync('toolpy', path.join(bin, 'toolpy-chained'));
    symlinkSync(path.join(depot, 'tool/current/bin'), path.join(dir, 'bin-link'));
    const code = 'import hello_tool, sys, sysconfig; print(sys.prefix); print(sysconfig.get_paths()["purelib"]); print(sys.executable)';
    for (const exe of [path.join(bin, 'toolpy'), path.join(bin, 'toolpy-rel'), path.join(bin, 'toolpy-chained'), path.join(dir, 'bin-link/python')]) {
      const r = run(exe, ['-c', code]);
      expect({ exe, status: r.status, err: r.err }).toEqual({ exe, status: 0, err: '' });
      const [prefix, purelib, executable] = r.out.trim().split('\n');
      expect(prefix).toBe(version);
      expect(purelib.startsWith(version)).toBe(true);
      expect(executable.startsWith(version)).toBe(true);
    }
    // Found through PATH under its link name, too.
    const viaPath = run('toolpy', ['-c', 'import hello_tool, sys; print(sys.prefix)'], { PATH: `${bin}:/usr/bin:/bin` });
    expect(viaPath.out.trim()).toBe(version);
  });

  it('started through a path longer than the system resolves, runs its own environment, never a truncated path', () => {
    // A short link to a deep real folder: argv[0] is short, the real folder plus the name is longer than PATH_MAX.
    const parts = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}${'d'.repeat(198)}`);
    const deep = path.join(dir, ...parts);
    mkdirSync(deep, { recursive: true });
    try {
      const name = `py${'n'.repeat(240)}`;
      symlinkSync(deep, path.join(dir, 's'));
      // Made through the short link: the full path is longer than the system takes in one string.
      symlinkSync(path.join(depot, 'tool/current/bin/python'), path.join(dir, 's', name));
      expect(deep.length + name.length).toBeGreaterThan(4096);
      const r = run(path.join(dir, 's', name), ['-c', 'import hello_tool, sys; print(sys.prefix)']);
      expect({ status: r.status, err: r.err }).toEqual({ status: 0, err: '' });
      expect(r.out.trim()).toBe(version);
    } finally {
      execFileSync('rm', ['-rf', path.join(dir, parts[0]), path.join(dir, 's')]);
    }
  });

  it("never runs a host's PYTHONSTARTUP, even at an interactive prompt, and hands it back to child processes", () => {
    const evil = path.join(dir, 'startup.py');
    writeFileSync(evil, 'print("HOST STARTUP RAN")\n');
    const python = path.join(depot, 'tool/current/bin/python');
    const session = 'import os, subprocess, sys\nprint("child sees", subprocess.run([sys.executable, "-c", "import os; print(os.environ.get(\'PYDEPOT_HOST_PYTHONSTARTUP\', \'-\')[1:])"], capture_output=True, text=True).stdout.strip())\n';
    const r = run(python, ['-i', '-q'], { PYTHONSTARTUP: evil }, session);
    expect(`${r.out}${r.err}`).not.toContain('HOST STARTUP RAN');
    expect(r.out).toContain(`child sees ${evil}`);
    const script = run(python, ['-c', 'import os; print(os.environ.get("PYTHONSTARTUP"))'], { PYTHONSTARTUP: evil });
    expect(script.out.trim()).toBe(evil);
  });

  it('with "pythonPath": "append", a host path adds modules but shadows nothing the environment or its runtime holds', () => {
    const host = path.join(dir, 'host-path');
    writeFiles(host, {
      'pip/__init__.py': '',
      'pip/__main__.py': 'print("FAKE PIP")\n',
      'hello_tool.py': 'raise SystemExit("FAKE hello_tool")\n',
      'host_only.py': 'NAME = "host"\n',
    });
    const python = path.join(depot, 'tool/current/bin/python');
    const pip = run(python, ['-m', 'pip', '--version'], { PYTHONPATH: host });
    expect(pip.out).not.toContain('FAKE');
    expect(pip.out).toMatch(/^pip \d+/);
    const r = run(python, ['-c', 'import hello_tool, host_only, sys; print(host_only.NAME); print(sys.path.index(%r) == len(sys.path) - 1)'.replace('%r', JSON.stringify(host))], { PYTHONPATH: host });
    expect(r).toMatchObject({ status: 0, out: 'host\nTrue\n' });
  });

  describe('on a damaged or hostile copy of the depot', () => {
    const copy = path.join(dir, 'copy');
    beforeAll(() => execFileSync('cp', ['-a', depot, copy]));
    const copied = () => path.join(copy, 'tool', path.basename(version));

    it('reads pyvenv.cfg by whole lines: a "home" hidden past a buffer length in another line is not honoured', () => {
      const cfg = path.join(copied(), 'pyvenv.cfg');
      const original = readFileSync(cfg, 'utf8');
      const trap = path.join(dir, 'trap');
      for (const pad of [4159, 4095, 8191]) {
        const line = `padding = ${'a'.repeat(pad - 'padding = '.length)}home = ${trap}\n`;
        chmodSync(cfg, 0o644);
        writeFileSync(cfg, `${line}${original}`);
        const r = run(path.join(copied(), 'bin/python'), ['-c', 'import hello_tool, sys; print(sys.base_prefix)']);
        expect({ pad, status: r.status, err: r.err }).toEqual({ pad, status: 0, err: '' });
        expect(r.out).not.toContain(trap);
      }
      writeFileSync(cfg, original);
    });

    it("loads libpython only from its runtime: with the runtime's gone, it fails naming that file, never loading one from LD_LIBRARY_PATH", () => {
      const runtime = readdirSync(path.join(copy, '_runtimes')).find((n) => n.startsWith('cpython-3.12'))!;
      const libs = readdirSync(path.join(copy, '_runtimes', runtime, 'lib')).filter((n) => n.startsWith('libpython3.12.so'));
      for (const lib of libs) rmSync(path.join(copy, '_runtimes', runtime, 'lib', lib));
      const lib = 'libpython3.12.so.1.0';
      const host = path.join(path.dirname(path.dirname(realpathSync(pyenvPython('3.12')))), 'lib');
      const r = run(path.join(copied(), 'bin/python'), ['-c', 'print("RAN")'], { LD_LIBRARY_PATH: host });
      expect(r.status).toBe(127);
      expect(r.out).not.toContain('RAN');
      expect(r.err).toContain(`cannot load libpython ${path.join(copy, '_runtimes', runtime, 'bin')}/../lib/${lib}`);
      expect(r.err).toContain('No such file or directory');
    });
  });

  it('is built hardened: full RELRO, bound now, position independent, fortified', () => {
    const launcher = realpathSync(path.join(version, 'bin/python'));
    const dynamic = execFileSync('readelf', ['-d', '-W', launcher], { encoding: 'utf8' });
    expect(dynamic).toMatch(/FLAGS.*BIND_NOW/);
    expect(dynamic).toMatch(/FLAGS_1.*PIE/);
    expect(execFileSync('readelf', ['-l', '-W', launcher], { encoding: 'utf8' })).toContain('GNU_RELRO');
    expect(execFileSync('readelf', ['--dyn-syms', '-W', launcher], { encoding: 'utf8' })).toMatch(/__\w+_chk/);
  });
});
