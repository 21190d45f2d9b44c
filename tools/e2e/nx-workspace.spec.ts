import { execFileSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeWheel, testdir } from '../testing';
import { exec, git, grepText, makeWorkspace, nx, nxWith, REPO, snapshot, taskLines } from './helpers';

jest.setTimeout(600_000);

const BUILD_TARGETS = ['venv', 'install'];
const RUNTIMES = { 'cli-tools': 'python-3.11', 'maxscript-imaging': 'python-3.12' } as const;

describe('the Nx workspace end to end (real CPython, real pip, PyPI)', () => {
  const { ws, cleanup } = makeWorkspace();
  afterAll(cleanup);
  const depot = path.join(ws, 'dist/depot');

  it('builds and publishes the example environments', () => {
    const run = nx(ws, 'run-many', '-t', 'publish');
    expect(run.out).toContain('Successfully ran target publish for 2 projects');
    expect(run.status).toBe(0);
    for (const env of ['maxscript-imaging', 'cli-tools']) {
      expect(existsSync(path.join(depot, env, 'current', 'bin', 'python'))).toBe(true);
      expect(existsSync(path.join(depot, env, 'current', 'pydepot.json'))).toBe(true);
    }
    // Each Python is a project of its own, built once; the depot holds each once.
    expect(Object.keys(taskLines(run.out)).filter((t) => t.endsWith(':runtime')).sort()).toEqual(['python-3.11:runtime', 'python-3.12:runtime']);
    expect(readdirSync(path.join(depot, '_runtimes')).filter((n) => !n.startsWith('.'))).toHaveLength(2);
    // The task graph runs each runtime before the environments on it.
    const show = JSON.parse(execFileSync(path.join(ws, 'node_modules/.bin/nx'), ['show', 'project', 'cli-tools', '--json'], { cwd: ws, env: { ...process.env, NX_DAEMON: 'false' } }).toString());
    expect(show.targets.venv.dependsOn).toEqual([{ projects: ['python-3.11'], target: 'runtime' }]);
  });

  it('runs no build step and writes nothing to the depot when nothing changed', () => {
    const before = snapshot(depot);
    const run = nx(ws, 'run-many', '-t', 'publish');
    expect(run.status).toBe(0);
    expect(run.out).toContain('Nx read the output from the cache instead of running the command for 6 out of 8 tasks');
    const tasks = taskLines(run.out);
    for (const env of ['maxscript-imaging', 'cli-tools'] as const) {
      for (const t of BUILD_TARGETS) expect(tasks[`${env}:${t}`]).toMatch(/cache/);
      expect(tasks[`${RUNTIMES[env]}:runtime`]).toMatch(/cache/);
    }
    expect(run.out.match(/is up to date; nothing written/g)).toHaveLength(2);
    expect(snapshot(depot)).toEqual(before);
  });

  it('passes verify: smoke checks and the audit against the published copies', () => {
    const run = nx(ws, 'run-many', '-t', 'verify');
    expect(run.status).toBe(0);
    expect(run.out).toMatch(/maxscript-imaging [0-9a-f]{16}: 3 checks passed, audit clean/);
    expect(run.out).toMatch(/cli-tools [0-9a-f]{16}: 6 checks passed, audit clean/);
    // verify checks what is current: it builds and publishes nothing.
    expect(run.out).not.toMatch(/nx run [\w-]+:publish/);
  });

  it('runs the published environments from a moved copy of the depot and through a symlink, with the build output removed', () => {
    const { dir: away, cleanup: cleanupAway } = testdir({}, 'pydepot-moved-');
    try {
      // The depot is what moves (a share mounted elsewhere): environments find their runtime in it by a relative path.
      cpSync(depot, path.join(away, 'depot'), { recursive: true, verbatimSymlinks: true });
      symlinkSync(path.join(away, 'depot/cli-tools/current'), path.join(away, 'tools-link'));
      rmSync(path.join(ws, 'dist'), { recursive: true, force: true });
      expect(exec(path.join(away, 'depot/maxscript-imaging/current/bin/python'), ['-c', 'import PIL, PIL.Image; print(PIL.__version__)']).trim()).toBe('13.0.0');
      for (const root of [path.join(away, 'depot/cli-tools/current'), path.join(away, 'tools-link')]) {
        expect(exec(path.join(root, 'bin/pygmentize'), ['-V'])).toContain('Pygments version 2.21.0');
        expect(exec(path.join(root, 'bin/python'), ['-c', 'import sys; print(sys.prefix)']).trim()).toBe(realpathSync(root));
      }
      expect(grepText(away, ws)).toEqual([]);
      expect(grepText(away, REPO)).toEqual([]);
    } finally {
      cleanupAway();
    }
  });

  it('rebuilds only the environment whose requirements changed, and nx affected picks only it', () => {
    // Bring the build output back from the cache first (the previous test removed it).
    expect(nx(ws, 'run-many', '-t', 'publish').status).toBe(0);
    appendFileSync(path.join(ws, 'environments/cli-tools/requirements.txt'), 'colorama==0.4.6\n');
    const run = nx(ws, 'run-many', '-t', 'publish');
    expect(run.status).toBe(0);
    const tasks = taskLines(run.out);
    for (const t of BUILD_TARGETS) expect(tasks[`maxscript-imaging:${t}`]).toMatch(/cache/);
    expect(tasks['cli-tools:venv']).toMatch(/cache/);
    expect(tasks['python-3.11:runtime']).toMatch(/cache/);
    expect(tasks['cli-tools:install']).toBe('');
    expect(readdirSync(path.join(depot, 'cli-tools')).filter((n) => /^[0-9a-f]{16}$/.test(n))).toHaveLength(2);
    // install and publish ran in one process: Nx started one batch of the stage executor, not a process per stage.
    expect(run.out.match(/Running \d+ tasks? with @pydepot\/nx-plugin:stage/g)).toHaveLength(1);

    git(ws, 'commit', '-qam', 'cli-tools: add colorama');
    const affected = nx(ws, 'show', 'projects', '--affected', '--base=HEAD~1', '--head=HEAD');
    expect(affected.out.split('\n').filter((l) => /^[\w-]+$/.test(l.trim()))).toEqual(['cli-tools']);
    const publish = nx(ws, 'affected', '-t', 'publish', '--base=HEAD~1', '--head=HEAD');
    expect(publish.status).toBe(0);
    expect(publish.out).toContain('Successfully ran target publish for project cli-tools');
    expect(publish.out).not.toContain('maxscript-imaging');
  });

  it('runs the same executors from a hand-written project.json', () => {
    const root = path.join(ws, 'apps/hand-tool');
    mkdirSync(path.join(root, 'wheels'), { recursive: true });
    makeWheel(path.join(root, 'wheels'), 'hand-tool', '2.0.0', { script: 'hand-tool' });
    writeFileSync(
      path.join(root, 'environment.json'),
      JSON.stringify({ python: '3.12', packages: ['hand-tool==2.0.0'], index: { noIndex: true, findLinks: ['wheels'] }, verify: { commands: [['hand-tool']] } }),
    );
    writeFileSync(
      path.join(root, 'project.json'),
      JSON.stringify({
        name: 'hand-tool',
        targets: {
          unpack: { executor: '@pydepot/nx-plugin:unpack', cache: true, outputs: ['{workspaceRoot}/dist/pydepot/hand-tool/unpack'] },
          ensurepip: { executor: '@pydepot/nx-plugin:ensurepip', dependsOn: ['unpack'] },
          venv: { executor: '@pydepot/nx-plugin:venv', dependsOn: ['ensurepip'] },
          'pip-install': { executor: '@pydepot/nx-plugin:pip-install', dependsOn: ['venv'] },
          publish: { executor: '@pydepot/nx-plugin:publish', dependsOn: ['pip-install'], options: { depot: 'dist/hand-depot' } },
          verify: { executor: '@pydepot/nx-plugin:verify', dependsOn: ['publish'], options: { depot: 'dist/hand-depot' } },
        },
      }),
    );
    try {
      const run = nx(ws, 'run', 'hand-tool:verify');
      expect(run.out).toMatch(/hand-tool [0-9a-f]{16}: 1 check passed, audit clean/);
      expect(run.status).toBe(0);
      expect(exec(path.join(ws, 'dist/hand-depot/hand-tool/current/bin/hand-tool'))).toBe('hand-tool 2.0.0\n');
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it("checks a stage target's options against that stage: an install option on publish stops it, named, with nothing published", () => {
    // A project.json beside the spec configures the inferred publish target (Nx merges the two).
    const file = path.join(ws, 'environments/cli-tools/project.json');
    writeFileSync(file, JSON.stringify({ targets: { publish: { options: { installer: 'uv' } } } }));
    const before = snapshot(depot);
    try {
      // In a batch (the default) and with batching off (each task through the executor's own implementation).
      for (const env of [{}, { NX_BATCH_MODE: 'false' }]) {
        const run = nxWith(env, ws, 'run', 'cli-tools:publish');
        expect(run.status).not.toBe(0);
        expect(run.out).toContain('target cli-tools:publish sets "installer", which the publish stage does not take');
      }
      expect(snapshot(depot)).toEqual(before);
    } finally {
      rmSync(file);
    }
  });

  it('stops on a malformed spec with the file and the field, before building anything', () => {
    mkdirSync(path.join(ws, 'environments/broken'));
    writeFileSync(path.join(ws, 'environments/broken/environment.json'), JSON.stringify({ python: '3.12', packages: 'pillow' }));
    try {
      const run = nx(ws, 'run', 'broken:publish');
      expect(run.status).not.toBe(0);
      expect(run.out).toContain(path.join(ws, 'environments/broken/environment.json'));
      expect(run.out).toContain('field "packages" must be an array, got string');
      expect(existsSync(path.join(ws, 'dist/pydepot/broken'))).toBe(false);
      expect(existsSync(path.join(depot, 'broken'))).toBe(false);
    } finally {
      rmSync(path.join(ws, 'environments/broken'), { recursive: true });
    }
  });

  it('does not let ambient state leak: the depot holds complete versions only', () => {
    for (const env of readdirSync(depot).filter((n) => n !== '.objects' && n !== '_runtimes')) {
      for (const name of readdirSync(path.join(depot, env))) {
        expect(name).toMatch(/^([0-9a-f]{16}|current|current\.json|releases\.json|CHANGELOG\.md|\.objects)$/);
        if (/^[0-9a-f]{16}$/.test(name)) expect(statSync(path.join(depot, env, name, 'pydepot.json')).isFile()).toBe(true);
      }
    }
    // Runtimes: complete trees only (no temp or trash folder of a publish left behind).
    for (const name of readdirSync(path.join(depot, '_runtimes'))) {
      expect(name).toMatch(/^(cpython-[\d.]+-[\w-]+-[0-9a-f]{12}|\.pydepot-publish\.lock)$/);
      if (name.startsWith('cpython-')) expect(statSync(path.join(depot, '_runtimes', name, 'pydepot.json')).isFile()).toBe(true);
    }
  });
});
