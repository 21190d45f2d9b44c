import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { auditTree } from '../../libs/core/src';
import { makeWheel, pyenvPython } from '../testing';
import { exec, grepText, makeWorkspace, nxWith, taskLines } from './helpers';

jest.setTimeout(900_000);

/**
 * One runtime per Python, through Nx: four environments on two CPythons
 * (three in the shared layout, one self-contained). Each Python is built
 * once and published once, even when its environments publish at the same
 * time; every environment in the shared layout behaves like a normal venv
 * from a moved depot, through a symlink, from two mounts at once, as another
 * user under a host application's Python variables, with the workspace and
 * the source CPython hidden; rollback brings a version back with the runtime
 * it runs on, and a runtime no kept version uses is collected.
 */
describe('shared runtimes', () => {
  const { ws, cleanup } = makeWorkspace();
  afterAll(cleanup);
  const dir = path.dirname(ws);
  chmodSync(dir, 0o755);
  const depot = path.join(ws, 'dist/depot');
  const wheels = path.join(ws, 'wheels');
  mkdirSync(wheels);
  for (const v of ['1.0.0', '2.0.0']) makeWheel(wheels, 'hello-tool', v, { script: 'hello-tool' });
  makeWheel(wheels, 'other-tool', '1.0.0', { script: 'other-tool' });
  mkdirSync(path.join(dir, 'extra'));
  const extraWheel = makeWheel(path.join(dir, 'extra'), 'extra-pkg', '1.0.0');
  const spec = (name: string, python: string, packages: string[], extra: Record<string, unknown> = {}) => {
    mkdirSync(path.join(ws, 'environments', name), { recursive: true });
    const commands = packages.map((p) => [p.split('==')[0]]);
    writeFileSync(
      path.join(ws, 'environments', name, 'environment.json'),
      JSON.stringify({ python, packages, index: { noIndex: true, findLinks: ['../../wheels'] }, verify: { commands }, ...extra }, null, 2),
    );
  };
  for (const example of ['cli-tools', 'maxscript-imaging']) rmSync(path.join(ws, 'environments', example), { recursive: true });
  spec('alpha', '3.12', ['hello-tool==1.0.0']);
  spec('beta', '3.12', ['other-tool==1.0.0']);
  spec('gamma', '3.11', ['hello-tool==1.0.0']);
  spec('delta', '3.12', ['hello-tool==2.0.0'], { layout: 'self-contained' });
  const nx = (...args: string[]) => nxWith({}, ws, ...args);
  const currentOf = (env: string) => realpathSync(path.join(depot, env, 'current'));
  const runtimes = () => readdirSync(path.join(depot, '_runtimes')).filter((n) => !n.startsWith('.')).sort();

  it('builds each Python once for all its environments and publishes it once, environments publishing at the same time', () => {
    const run = nx('run-many', '-t', 'publish', '--parallel=4');
    expect({ status: run.status, out: run.status ? run.out : '' }).toEqual({ status: 0, out: '' });
    const tasks = taskLines(run.out);
    expect(Object.keys(tasks).filter((t) => t.endsWith(':runtime')).sort()).toEqual(['python-3.11:runtime', 'python-3.12:runtime']);
    expect(run.out.match(/installing pip with ensurepip/g)).toHaveLength(2);
    // Three environments publish into one depot concurrently; each runtime is written exactly once.
    expect(run.out.match(/writing runtime cpython-/g)).toHaveLength(2);
    expect(runtimes()).toHaveLength(2);
    const cfg = (env: string) => readFileSync(path.join(currentOf(env), 'pyvenv.cfg'), 'utf8');
    expect(cfg('alpha')).toMatch(/^home = \.\.\/\.\.\/_runtimes\/cpython-3\.12\.\d+-linux-\w+-[0-9a-f]{12}\/bin$/m);
    expect(cfg('alpha').split('\n')[0]).toBe(cfg('beta').split('\n')[0]);
    expect(cfg('gamma')).toMatch(/^home = \.\.\/\.\.\/_runtimes\/cpython-3\.11\./m);
    // The self-contained one carries its interpreter; the shared ones only their own files.
    expect(existsSync(path.join(currentOf('delta'), 'pyvenv.cfg'))).toBe(false);
    expect(readdirSync(path.join(currentOf('delta'), 'lib')).some((n) => n.startsWith('libpython3.12'))).toBe(true);
    const bytes = (root: string) => Number(spawnSync('du', ['-sb', '--apparent-size', root], { encoding: 'utf8' }).stdout.split('\t')[0]);
    expect(bytes(currentOf('alpha'))).toBeLessThan(2 * 2 ** 20);
    expect(bytes(currentOf('delta'))).toBeGreaterThan(40 * 2 ** 20);
    // The content store is depot-wide: the same file in two environments (on two Pythons) is one inode.
    const module = (env: string, minor: string) => statSync(path.join(currentOf(env), `lib/python${minor}/site-packages/hello_tool/__init__.py`)).ino;
    expect(module('alpha', '3.12')).toBe(module('gamma', '3.11'));
  });

  it('holds no build path and behaves like a normal venv: moved, through a symlink, from two mounts at once, as another user under a host\'s Python variables, workspace and source CPython hidden', async () => {
    const source = realpathSync(path.dirname(path.dirname(pyenvPython('3.12'))));
    for (const env of ['alpha', 'beta', 'gamma']) {
      expect(await auditTree(currentOf(env), [ws, realpathSync(ws), source])).toEqual([]);
      expect(grepText(currentOf(env), ws)).toEqual([]);
    }
    for (const rt of runtimes()) expect(grepText(path.join(depot, '_runtimes', rt), ws)).toEqual([]);
    const share = path.join(dir, 'share', 'Tööls Share');
    mkdirSync(share, { recursive: true });
    const moved = path.join(share, 'depot');
    cpSync(depot, moved, { recursive: true, verbatimSymlinks: true });
    const out = path.join(dir, 'out');
    mkdirSync(out, { mode: 0o777 });
    chmodSync(out, 0o777);
    const project = path.join(dir, 'project');
    mkdirSync(project);
    writeFileSync(path.join(project, 'sibling.py'), 'VALUE = 42\n');
    writeFileSync(path.join(project, 'tool.py'), TOOL);
    cpSync(extraWheel, path.join(project, path.basename(extraWheel)));
    for (const p of [dir, path.dirname(share), share, project]) chmodSync(p, 0o755);
    const script = `
set -eu
mkdir -p /mnt/pydepot-a /mnt/pydepot-b
mount --bind "$MOVED" /mnt/pydepot-a
mount --bind "$MOVED" /mnt/pydepot-b
mount -t tmpfs none "$WS"
mount -t tmpfs none "$SRC"
ln -sfn "$MOVED/alpha/current" "$OUT/alpha-link"
run() { setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin HOME=/nonexistent \
  PYTHONHOME=/usr PYTHONPATH=/usr/lib/python3.11 PYTHONSTARTUP=/etc/passwd PYTHONUSERBASE=/tmp "$@"; }
cd "$OUT"
run "$MOVED/alpha/current/bin/python" "$PROJECT/tool.py" "$OUT/alpha" "$PROJECT" > "$OUT/alpha.json"
run "$OUT/alpha-link/bin/python" -c 'import sys; print(sys.prefix)' > "$OUT/link.txt"
run "$MOVED/gamma/current/bin/hello-tool" > "$OUT/gamma-script.txt"
run "$MOVED/beta/current/bin/other-tool" > "$OUT/beta-script.txt"
run /mnt/pydepot-a/alpha/current/bin/python -c 'import sys, time; time.sleep(0.5); print(sys.prefix, sys.base_prefix)' > "$OUT/mount-a.txt" &
run /mnt/pydepot-b/alpha/current/bin/python -c 'import sys, time; time.sleep(0.5); print(sys.prefix, sys.base_prefix)' > "$OUT/mount-b.txt"
wait
`;
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, MOVED: moved, WS: ws, SRC: source, OUT: out, PROJECT: project },
      encoding: 'utf8',
    });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
    const report = JSON.parse(readFileSync(path.join(out, 'alpha.json'), 'utf8'));
    const env = realpathSync(path.join(moved, 'alpha/current'));
    const runtime = path.join(moved, '_runtimes', runtimes().find((r) => r.startsWith('cpython-3.12'))!);
    expect(report).toMatchObject({
      user: 65534,
      prefix: env,
      base_prefix: runtime,
      executable: path.join(env, 'bin/python'),
      purelib: path.join(env, 'lib/python3.12/site-packages'),
      stdlib: path.join(runtime, 'lib/python3.12'),
      sibling: 42,
      multiprocessing: [[1, 4, 9], env],
      child_prefix: env,
      pythonhome_for_children: '/usr',
      target: 0,
      target_files: true,
      venv: [0, [path.join(out, 'alpha', 'venv'), runtime]],
    });
    expect(report.pip_list).toEqual(expect.arrayContaining(['hello-tool', 'pip']));
    // The host's PYTHONPATH (another Python's stdlib) is not on sys.path.
    expect(report.path.filter((p: string) => !p.startsWith(`${moved}/`) && p !== '/nonexistent' && p !== path.join(dir, 'project'))).toEqual([]);
    expect(readFileSync(path.join(out, 'link.txt'), 'utf8').trim()).toBe(env);
    expect(readFileSync(path.join(out, 'gamma-script.txt'), 'utf8')).toBe('hello-tool 1.0.0\n');
    expect(readFileSync(path.join(out, 'beta-script.txt'), 'utf8')).toBe('other-tool 1.0.0\n');
    // Two mounts of one share at once: each process runs entirely from the mount it was started from.
    const version = path.basename(env);
    for (const m of ['a', 'b']) {
      const [prefix, base] = readFileSync(path.join(out, `mount-${m}.txt`), 'utf8').trim().split(' ');
      expect(prefix).toBe(`/mnt/pydepot-${m}/alpha/${version}`);
      expect(base).toBe(`/mnt/pydepot-${m}/_runtimes/${path.basename(runtime)}`);
    }
  });

  it('says what is missing when one environment is copied without the depot', () => {
    const lone = path.join(dir, 'lone-alpha');
    cpSync(currentOf('alpha'), lone, { recursive: true, verbatimSymlinks: true });
    const run = spawnSync(path.join(lone, 'bin/python'), ['-c', 'pass'], { encoding: 'utf8' });
    expect(run.status).toBe(127);
    expect(run.stderr).toContain('the runtime of this environment is missing');
    expect(run.stderr).toContain('copy or sync the whole depot folder');
  });

  it('rolls back together with the runtime a version runs on, and collects a runtime no kept version uses', () => {
    const before = path.basename(currentOf('gamma'));
    spec('gamma', '3.12', ['hello-tool==1.0.0']);
    expect(nx('run', 'gamma:publish').status).toBe(0);
    expect(exec(path.join(depot, 'gamma/current/bin/python'), ['-c', 'import sys; print(sys.version_info[:2])']).trim()).toBe('(3, 12)');
    const rollback = nx('run', 'gamma:rollback');
    expect(rollback.status).toBe(0);
    expect(path.basename(currentOf('gamma'))).toBe(before);
    expect(exec(path.join(depot, 'gamma/current/bin/python'), ['-c', 'import sys; print(sys.version_info[:2])']).trim()).toBe('(3, 11)');
    expect(runtimes()).toHaveLength(2);
    // Forward again, keeping one version with no grace period: the 3.11 version goes. Its runtime stays for the
    // depot-wide grace (one environment's keepDays never decides for runtimes others may be publishing on)…
    spec('gamma', '3.12', ['hello-tool==2.0.0'], { publish: { keep: 1, keepDays: 0 } });
    const forward = nx('run', 'gamma:publish');
    expect(forward.status).toBe(0);
    expect(forward.out).toMatch(/retention \(keep 1\): removed/);
    expect(runtimes()).toHaveLength(2);
    // …and goes with the next collection once the depot-wide grace is over (here: none).
    spec('gamma', '3.12', ['hello-tool==1.0.0'], { publish: { keep: 1, keepDays: 0 } });
    const collected = nxWith({ PYDEPOT_RUNTIME_GRACE_DAYS: '0' }, ws, 'run', 'gamma:publish');
    expect(collected.status).toBe(0);
    expect(collected.out).toMatch(/runtime cpython-3\.11\.[\w.-]+: no kept version runs on it; removed/);
    expect(runtimes().map((r) => r.split('-')[1].split('.').slice(0, 2).join('.'))).toEqual(['3.12']);
    for (const env of ['alpha', 'beta', 'gamma']) expect(spawnSync(path.join(depot, env, 'current/bin/python'), ['-c', 'pass']).status).toBe(0);
  });
});

/** Run as the environment's python, from another folder: what a tool sees. */
const TOOL = String.raw`
import json, multiprocessing, os, subprocess, sys, sysconfig, venv
out, project = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
import sibling

def square(x):
    return x * x

def prefix(_):
    return sys.prefix

if __name__ == "__main__":
    multiprocessing.set_start_method("spawn")
    with multiprocessing.Pool(2) as pool:
        squares = pool.map(square, [1, 2, 3])
        child = pool.map(prefix, [0])[0]
    report = {
        "user": os.getuid(), "prefix": sys.prefix, "base_prefix": sys.base_prefix, "executable": sys.executable,
        "purelib": sysconfig.get_paths()["purelib"], "stdlib": sysconfig.get_paths()["stdlib"], "path": sys.path,
        "sibling": sibling.VALUE, "multiprocessing": [squares, child],
        "child_prefix": subprocess.run([sys.executable, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True).stdout.strip(),
        "pythonhome_for_children": subprocess.run([sys.executable, "-c", "import os; print(os.environ.get('PYTHONHOME'))"], capture_output=True, text=True).stdout.strip(),
    }
    listed = subprocess.run([sys.executable, "-m", "pip", "list", "--format=json", "--disable-pip-version-check"], capture_output=True, text=True)
    report["pip_list"] = [p["name"] for p in json.loads(listed.stdout or "[]")] or [listed.stderr[-300:]]
    wheel = [f for f in os.listdir(project) if f.endswith(".whl")][0]
    target = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--disable-pip-version-check", "--target", os.path.join(out, "target"), os.path.join(project, wheel)], capture_output=True, text=True)
    report["target"] = target.returncode
    report["target_files"] = os.path.isdir(os.path.join(out, "target", "extra_pkg"))
    venv.create(os.path.join(out, "venv"), symlinks=True)
    r = subprocess.run([os.path.join(out, "venv", "bin", "python"), "-c", "import sys, json; print(json.dumps([sys.prefix, sys.base_prefix]))"], capture_output=True, text=True)
    report["venv"] = [r.returncode, json.loads(r.stdout) if r.returncode == 0 else r.stderr[-400:]]
    print(json.dumps(report))
`;
