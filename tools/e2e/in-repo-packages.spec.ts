import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeWheel, writeFiles } from '../testing';
import { exec, git, makeWorkspace, nx, taskLines } from './helpers';

jest.setTimeout(1_200_000);

/**
 * In-repo Python packages and base environments through real Nx: the graph
 * edges, `nx affected -t publish` picking exactly the dependent environments,
 * and the built environments running the in-repo code.
 */
describe('in-repo packages and base environments', () => {
  const { ws, cleanup } = makeWorkspace();
  afterAll(cleanup);
  const pyproject = (name: string, deps: string[] = []) => `[project]
name = "${name}"
version = "0.1.0"
requires-python = ">=3.9"
dependencies = [${deps.map((d) => `"${d}"`).join(', ')}]

[build-system]
requires = ["uv_build>=0.9.0,<0.14"]
build-backend = "uv_build"
`;
  const published = (env: string) => path.join(ws, 'dist/depot', env, 'current');
  const run = (env: string, code: string) => exec(path.join(published(env), 'bin/python'), ['-c', code]).trim();
  const publishTasks = (out: string) => Object.keys(taskLines(out)).filter((t) => t.endsWith(':publish')).sort();

  beforeAll(() => {
    writeFiles(path.join(ws, 'libs/python'), {
      'studio-core/pyproject.toml': pyproject('studio-core'),
      'studio-core/src/studio_core/__init__.py': 'def greeting():\n    return "hello from studio-core v1"\n',
      'studio-greet/pyproject.toml': pyproject('studio-greet', ['studio-core>=0.1']),
      'studio-greet/src/studio_greet/__init__.py': 'from studio_core import greeting\n\ndef main():\n    print(greeting())\n',
    });
    const wheels = path.join(ws, 'environments/wheels');
    mkdirSync(wheels, { recursive: true });
    makeWheel(wheels, 'extra-tool', '1.0.0', { script: 'extra-tool' });
    const env = (name: string, spec: object) => writeFiles(path.join(ws, 'environments', name), { 'environment.json': JSON.stringify(spec, null, 2) });
    env('greet-tool', { python: '3.12', packages: ['studio-greet'], index: { noIndex: true, findLinks: ['../wheels'] } });
    env('greet-plus', { base: 'greet-tool', packages: ['extra-tool==1.0.0'], index: { noIndex: true, findLinks: ['../wheels'] } });
    env('plain-tool', { python: '3.12', packages: ['extra-tool==1.0.0'], index: { noIndex: true, findLinks: ['../wheels'] } });
    git(ws, 'add', '-A');
    git(ws, 'commit', '-qm', 'packages and environments');
  });

  it('draws the edges: environment → in-repo package → in-repo package, environment → base', () => {
    const r = nx(ws, 'graph', '--file=graph.json');
    expect(r.status).toBe(0);
    const { graph } = JSON.parse(readFileSync(path.join(ws, 'graph.json'), 'utf8'));
    const edges = (p: string) => (graph.dependencies[p] as Array<{ target: string }>).map((d) => d.target).sort();
    expect(edges('greet-tool')).toEqual(['studio-greet']);
    expect(edges('studio-greet')).toEqual(['studio-core']);
    expect(edges('greet-plus')).toEqual(['greet-tool']);
    expect(edges('plain-tool')).toEqual([]);
    expect(Object.keys(graph.nodes['greet-plus'].data.targets)).not.toContain('unpack');
  });

  it('builds the wheels, installs them only from this commit, and builds greet-plus on greet-tool', () => {
    const r = nx(ws, 'run-many', '-t', 'publish', '-p', 'greet-tool', 'greet-plus', 'plain-tool');
    expect(r.status).toBe(0);
    expect(run('greet-tool', 'import studio_greet; studio_greet.main()')).toBe('hello from studio-core v1');
    // The base's packages plus its own, in one environment with the base's Python.
    expect(run('greet-plus', 'import studio_greet, extra_tool; studio_greet.main()')).toBe('hello from studio-core v1');
    expect(exec(path.join(published('greet-plus'), 'bin/extra-tool'))).toBe('extra-tool 1.0.0\n');
    const manifest = JSON.parse(readFileSync(path.join(published('greet-plus'), 'pydepot.json'), 'utf8'));
    expect(manifest.base).toEqual({ name: 'greet-tool', version: JSON.parse(readFileSync(path.join(published('greet-tool'), 'pydepot.json'), 'utf8')).version });
    expect(manifest.packages.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['studio-core', 'studio-greet', 'extra-tool']));
    // Nothing in the published environments points back at the workspace or its wheels.
    const grep = () => { try { return execFileSync('grep', ['-rlIF', ws, path.join(ws, 'dist/depot')]).toString(); } catch { return ''; } };
    expect(grep()).toBe('');
  });

  it('changing an in-repo package makes `nx affected -t publish` pick exactly the environments that use it', () => {
    appendFileSync(path.join(ws, 'libs/python/studio-core/src/studio_core/__init__.py'), '\ndef greeting():\n    return "hello from studio-core v2"\n');
    const r = nx(ws, 'affected', '-t', 'publish', '--base=HEAD');
    expect(r.status).toBe(0);
    expect(publishTasks(r.out)).toEqual(['greet-plus:publish', 'greet-tool:publish']);
    expect(run('greet-tool', 'import studio_greet; studio_greet.main()')).toBe('hello from studio-core v2');
    expect(run('greet-plus', 'import studio_greet; studio_greet.main()')).toBe('hello from studio-core v2');
    git(ws, 'commit', '-qam', 'v2');
  });

  it('locks the dependencies of in-repo packages but not the packages themselves, and on a base: the base wins', () => {
    for (const env of ['greet-tool', 'greet-plus']) {
      const r = nx(ws, 'run', `${env}:lock`);
      expect(r.status).toBe(0);
    }
    const lock = readFileSync(path.join(ws, 'environments/greet-tool/requirements.lock'), 'utf8');
    expect(lock).toContain('# In-repo packages (studio-core, studio-greet) are built from this commit and not locked');
    expect(lock).not.toMatch(/^studio-/m);
    const plus = readFileSync(path.join(ws, 'environments/greet-plus/requirements.lock'), 'utf8');
    expect(plus).toMatch(/^extra-tool==1\.0\.0 \\\n\s+--hash=sha256:/m);
    // Built from the locks (hashes required), then checked complete with pip check.
    const r = nx(ws, 'run-many', '-t', 'publish', '-p', 'greet-tool', 'greet-plus');
    expect(r.status).toBe(0);
    expect(r.out).toContain('installing requirements.lock (hashes required)');
    expect(run('greet-plus', 'import studio_greet, extra_tool; studio_greet.main()')).toBe('hello from studio-core v2');
    git(ws, 'add', '-A');
    git(ws, 'commit', '-qm', 'locks');
  });

  it("changing a base environment rebuilds the environments built on it, and only them", () => {
    const spec = path.join(ws, 'environments/greet-tool/environment.json');
    writeFileSync(spec, JSON.stringify({ ...JSON.parse(readFileSync(spec, 'utf8')), description: 'now with a description' }));
    const r = nx(ws, 'affected', '-t', 'publish', '--base=HEAD');
    expect(r.status).toBe(0);
    expect(publishTasks(r.out)).toEqual(['greet-plus:publish', 'greet-tool:publish']);
    const lines = taskLines(r.out);
    expect(lines['greet-plus:venv']).not.toMatch(/cache/);
    expect(lines['studio-core:build-wheel']).toMatch(/cache/);
  });
});
