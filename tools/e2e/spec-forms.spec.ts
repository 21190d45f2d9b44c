import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeWheel, pyenvPython, writeFiles } from '../testing';
import { WINDOWS_PREFIX, writeMsi, writeNupkg } from '../testing/windows';
import { exec, git, makeToolWorkspace, nxWith, REPO, taskLines } from './helpers';

jest.setTimeout(1_200_000);

const RELEASE = '20250604';
const TRIPLE = 'x86_64-unknown-linux-gnu';
const sha256Of = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * Every documented form of every spec field, through `npx nx` as users run
 * it (Nx's option validation, inference, the runtime → venv → install →
 * publish chain), not through library calls: one environment per form of
 * "python" and per publisher, the remaining fields spread over them. Then
 * what a user sees when a spec is wrong, and verify on a machine that has
 * none of the build's interpreters.
 */
describe('every documented spec form, through Nx', () => {
  const { ws, dir, cleanup } = makeToolWorkspace();
  afterAll(cleanup);
  const depot = path.join(ws, 'dist/depot');
  makeWheel(path.join(ws, 'wheels'), 'other-tool', '1.0.0', { script: 'other-tool' });

  // A python-build-standalone mirror (file://) made from this machine's CPython 3.12; the same archive by sha256.
  const prefix = realpathSync(path.dirname(path.dirname(pyenvPython('3.12'))));
  const version = path.basename(prefix);
  const asset = `cpython-${version}+${RELEASE}-${TRIPLE}-install_only.tar.gz`;
  const mirror = path.join(dir, 'mirror');
  mkdirSync(path.join(mirror, RELEASE), { recursive: true });
  const archive = path.join(mirror, RELEASE, asset);
  execFileSync('tar', ['-I', 'gzip -1', '-cf', archive, '--exclude=test', '--exclude=site-packages/*', '--exclude=__pycache__', '--exclude=*.a', '-C', path.dirname(prefix), '--transform', `s,^${version},python,`, version]);
  writeFileSync(path.join(mirror, RELEASE, 'SHA256SUMS'), `${sha256Of(archive)}  ${asset}\n`);
  mkdirSync(path.join(ws, 'pythons'));
  execFileSync('cp', [archive, path.join(ws, 'pythons/cpython.tar.gz')]);
  // Windows distributions (a miniature prefix): their form must pass Nx and reach the OS check, not Nx's schema error.
  const winTree = path.join(dir, 'wintree');
  writeFiles(winTree, WINDOWS_PREFIX);
  writeMsi(path.join(ws, 'pythons/python-3.12.7-amd64.msi'), winTree, Object.keys(WINDOWS_PREFIX));
  const feed = path.join(dir, 'feed');
  mkdirSync(path.join(feed, 'python/3.12.7'), { recursive: true });
  writeNupkg(path.join(feed, 'python/3.12.7/python.3.12.7.nupkg'), winTree);
  const gitDepot = path.join(dir, 'deploy.git');
  execFileSync('git', ['init', '-q', '--bare', '-b', 'main', gitDepot]);

  const local = { noIndex: true, findLinks: ['../../wheels'] };
  const spec = (name: string, body: Record<string, unknown>, files: Record<string, string> = {}) =>
    writeFiles(path.join(ws, 'environments', name), { 'environment.json': JSON.stringify(body, null, 2), ...files });
  spec('bare', { description: 'bare version', python: '3.12', packages: ['hello-tool==1.0.0'], index: local, verify: { commands: [['hello-tool']] } });
  spec('installed', { python: { version: '3.11', source: 'installed' }, requirements: ['requirements.txt'], index: local, verify: { imports: ['hello_tool'] } }, { 'requirements.txt': 'hello-tool==1.0.0\n' });
  spec('standalone', { python: { version: '3.12', source: 'standalone', release: RELEASE, mirror: `file://${mirror}` }, packages: ['hello-tool'], index: local, verify: { importPackages: true } });
  spec('pinned', { python: { version, source: 'standalone', release: RELEASE, mirror: `file://${mirror}`, sha256: sha256Of(archive) }, packages: ['hello-tool'], index: local });
  spec('archived', { python: { archive: '../../pythons/cpython.tar.gz', sha256: sha256Of(archive) }, packages: ['hello-tool'], index: local });
  spec('derived', { base: 'bare', packages: ['other-tool==1.0.0'], index: local, publish: { keep: 2, keepDays: 0, groupWritable: true }, verify: { commands: [['other-tool'], ['hello-tool']] } });
  spec('private', { python: '3.12', layout: 'self-contained', installer: 'uv', pythonPath: 'append', packages: ['hello-tool'], index: local });
  spec('to-archive', { python: '3.12', packages: ['hello-tool'], index: local, publish: { to: 'archive', depot: 'dist/archives', formats: ['tar.zst', 'zip'] } });
  spec('to-git', { python: '3.12', packages: ['hello-tool'], index: local, publish: { to: 'git', depot: gitDepot, branch: 'main', lfs: false } });
  const nx = (...args: string[]) => nxWith({}, ws, ...args);
  const nxIn = (env: NodeJS.ProcessEnv, ...args: string[]) => nxWith(env, ws, ...args);
  const current = (env: string) => realpathSync(path.join(depot, env, 'current'));

  it('publishes one environment per form of "python" and per publisher with `nx run-many -t publish`', () => {
    const run = nx('run-many', '-t', 'publish');
    expect({ status: run.status, out: run.status ? run.out : '' }).toEqual({ status: 0, out: '' });
    const runtimes = Object.keys(taskLines(run.out)).filter((t) => t.endsWith(':runtime'));
    // bare, installed 3.11, standalone, pinned standalone, archive (private, to-archive and to-git share bare's python-3.12).
    expect(runtimes).toHaveLength(5);
    for (const env of ['bare', 'installed', 'standalone', 'pinned', 'archived', 'derived', 'private']) {
      expect(exec(path.join(current(env), 'bin/python'), ['-c', 'import hello_tool, sys; print(sys.prefix)']).trim()).toBe(current(env));
    }
    expect(exec(path.join(current('derived'), 'bin/other-tool')).trim()).toContain('other-tool');
    expect(JSON.parse(readFileSync(path.join(current('standalone'), 'pydepot.json'), 'utf8')).python.source).toMatchObject({ kind: 'standalone', release: RELEASE });
    expect(JSON.parse(readFileSync(path.join(current('archived'), 'pydepot.json'), 'utf8')).python.source).toMatchObject({ kind: 'archive' });
    // self-contained: its own interpreter; shared: a venv of the depot's runtime.
    expect(existsSync(path.join(current('private'), 'pyvenv.cfg'))).toBe(false);
    expect(readFileSync(path.join(current('bare'), 'pyvenv.cfg'), 'utf8')).toMatch(/^home = \.\.\/\.\.\/_runtimes\//m);
    const archives = execFileSync('find', [path.join(ws, 'dist/archives'), '-type', 'f'], { encoding: 'utf8' });
    expect(archives).toMatch(/to-archive[^\n]*\.tar\.zst$/m);
    expect(archives).toMatch(/to-archive[^\n]*\.zip$/m);
    expect(git(ws, '--git-dir', gitDepot, 'log', '--oneline', 'main')).toContain('to-git');
  });

  it('takes the MSI and NuGet forms through Nx to the distribution itself (a Windows CPython stops at the OS check, not at option validation)', () => {
    spec('from-msi', { python: { msi: '../../pythons/python-3.12.7-amd64.msi', sha256: sha256Of(path.join(ws, 'pythons/python-3.12.7-amd64.msi')) } });
    spec('from-nuget', { python: { nuget: '3.12.7', sha256: sha256Of(path.join(feed, 'python/3.12.7/python.3.12.7.nupkg')), feed: `file://${feed}` } });
    for (const env of ['from-msi', 'from-nuget']) {
      const run = nx('run', `${env}:venv`);
      expect(run.status).not.toBe(0);
      expect(run.out).not.toContain('does not match the schema');
      expect(run.out).toMatch(/is a windows CPython; this build agent runs linux/);
      rmSync(path.join(ws, 'environments', env), { recursive: true });
    }
  });

  it('verifies what is current with no CPython of the build machine in reach', () => {
    const hidden = { PYENV_ROOT: path.join(dir, 'no-pyenv'), XDG_DATA_HOME: path.join(dir, 'no-data'), PYDEPOT_PYTHON_PATH: '' };
    const run = nxIn(hidden, 'run-many', '-t', 'verify', '--projects=bare,installed,derived,archived');
    expect({ status: run.status, out: run.status ? run.out : '' }).toEqual({ status: 0, out: '' });
    expect(run.out).toMatch(/bare [0-9a-f]{16}: \d+ checks? passed, audit clean/);
  });

  it('names the spec and the field for a Python nobody has, and for a key given twice', () => {
    spec('nowhere', { python: '3.99' });
    const missing = nx('run', 'nowhere:venv');
    expect(missing.status).not.toBe(0);
    expect(missing.out).toContain('environments/nowhere/environment.json: field "python" asks for CPython 3.99');
    rmSync(path.join(ws, 'environments/nowhere'), { recursive: true });
    writeFiles(path.join(ws, 'environments/twice'), { 'environment.json': '{\n  "python": "3.12",\n  "python": "3.11"\n}\n' });
    const twice = nx('run', 'twice:venv');
    expect(twice.status).not.toBe(0);
    expect(twice.out).toContain('environments/twice/environment.json: field "python" is given twice (line 3)');
    rmSync(path.join(ws, 'environments/twice'), { recursive: true });
  });

  it('reports a base cycle and a self-base on those environments while every other project still loads', () => {
    spec('loop-a', { base: 'loop-b' });
    spec('loop-b', { base: 'loop-a' });
    spec('selfish', { base: 'selfish' });
    try {
      const projects = nx('show', 'projects');
      expect(projects.status).toBe(0);
      expect(projects.out).toContain('bare');
      expect(projects.out).toContain('loop-a');
      const other = nx('run', 'bare:verify');
      expect(other.status).toBe(0);
      const loop = nx('run', 'loop-a:venv');
      expect(loop.status).not.toBe(0);
      expect(loop.out).toMatch(/environments\/loop-[ab]\/environment\.json: field "base" makes a cycle: loop-a → loop-b → loop-a/);
      const self = nx('run', 'selfish:venv');
      expect(self.out).toMatch(/environments\/selfish\/environment\.json: field "base" makes a cycle: selfish → selfish/);
    } finally {
      for (const env of ['loop-a', 'loop-b', 'selfish']) rmSync(path.join(ws, 'environments', env), { recursive: true });
    }
  });

  it('answers a rollback the depot does not let this user write with the folder and what to do', () => {
    const user = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' });
    if (process.getuid?.() !== 0 || user.status !== 0) return; // needs root to act as another user
    // Two versions of bare, so there is one to roll back to.
    writeFileSync(path.join(ws, 'environments/bare/requirements.txt'), 'other-tool==1.0.0\n');
    const spec2 = JSON.parse(readFileSync(path.join(ws, 'environments/bare/environment.json'), 'utf8'));
    writeFileSync(path.join(ws, 'environments/bare/environment.json'), JSON.stringify({ ...spec2, requirements: ['requirements.txt'] }));
    expect(nx('run', 'bare:publish').status).toBe(0);
    // A tools developer's own checkout (theirs to write), the studio's depot (not theirs: root's, read-only to others).
    execFileSync('chmod', ['-R', 'a+rX', path.join(REPO, 'node_modules')]);
    execFileSync('chown', ['-R', 'nobody', ws]);
    execFileSync('chown', ['-R', 'root', depot]);
    execFileSync('chmod', ['-R', 'go-w', depot]);
    const run = spawnSync('setpriv', ['--reuid=nobody', '--regid=nogroup', '--clear-groups', path.join(ws, 'node_modules/.bin/nx'), 'run', 'bare:rollback', '--output-style=static'], {
      cwd: ws,
      env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', HOME: path.join(dir, 'nobody-home'), PYDEPOT_CACHE_DIR: path.join(dir, 'nobody-cache') },
      encoding: 'utf8',
    });
    execFileSync('chown', ['-R', 'root', ws]);
    const out = `${run.stdout}\n${run.stderr}`;
    expect(run.status).not.toBe(0);
    expect(out).toContain(path.join(depot, 'bare'));
    expect(out).toMatch(/cannot write|permission/i);
    expect(out).not.toMatch(/^\s*Permission denied \(os error 13\)\s*$/m);
  });
});
