import type { CreateNodesContextV2 } from '@nx/devkit';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { baseCycles, createDependencies, createNodesV2, pluginInputs, preTasksExecution } from './plugin';
import { declaredRuntimes, environmentSpecs, runtimeIdentityVariable } from './runtime-identities';
import { publishedStates, publishedStateVariable, type PublishedStateOptions } from './published-state';
import { DirectoryPublisher } from '../../../core/src/publish/directory';
import { fakeManifest, writeFiles } from '../../../../tools/testing';

describe('pydepot inference plugin', () => {
  const workspace = path.resolve(__dirname, '../../../..');
  const context: CreateNodesContextV2 = { workspaceRoot: workspace, nxJsonConfiguration: {} };
  const [glob, createNodes] = createNodesV2;

  it('matches environment specs under environments/ and in-repo packages under libs/python/', () => {
    expect(glob).toBe('{environments/**/environment.json,libs/python/*/pyproject.toml}');
  });

  it('infers one project per environment with the full target chain', async () => {
    const results = await createNodes(['environments/maxscript-imaging/environment.json'], { depot: '/mnt/depot' }, context);
    expect(results).toMatchSnapshot();
    const project = results[0][1].projects!['environments/maxscript-imaging'];
    const targets = project.targets!;
    expect(Object.keys(targets)).toEqual(['venv', 'install', 'publish', 'verify', 'rollback', 'lock', 'wheelhouse']);
    // The Python is a project of its own, built once for every environment on it.
    const runtime = results[0][1].projects!['environments/.runtimes/python-3.12'];
    expect(runtime.name).toBe('python-3.12');
    expect(runtime.targets!.runtime.outputs).toEqual(['{options.outputPath}']);
    expect(runtime.targets!.runtime.options).toEqual({ python: '3.12', includeStdlibTests: false, outputPath: 'dist/pydepot/_runtimes/python-3.12.json' });
    expect(targets.venv.dependsOn).toEqual([{ projects: ['python-3.12'], target: 'runtime' }]);
    expect(targets.venv.options.runtime).toBe('dist/pydepot/_runtimes/python-3.12.json');
    // Whatever the layout, the venv stage's Nx output is its delta (shared: a few files over nothing).
    expect(targets.venv.outputs).toEqual(['{options.outputPath}.delta']);
    expect(targets['install'].dependsOn).toEqual(['venv', { dependencies: true, target: 'build-wheel' }]);
    expect(targets['install'].inputs).toContain('^pydepot-source');
    // Replayed from the cache only for the depot state this run found and the version install built (published-state.ts).
    expect(targets.publish.cache).toBe(true);
    expect(targets.publish.outputs).toEqual([]);
    expect(targets.publish.inputs).toEqual(expect.arrayContaining([{ env: 'PYDEPOT_PUBLISHED_MAXSCRIPT_IMAGING' }, { dependentTasksOutputFiles: '**/pydepot.json' }, '{projectRoot}/**/*']));
    expect(targets.publish.options.depot).toBe('/mnt/depot');
    // The runtime's key names the distribution, never an environment: the same input for the runtime and its environments.
    // An environment variable the plugin's preTasksExecution sets, once per run: hashing spawns no process.
    const identity = { env: 'PYDEPOT_RUNTIME_PYTHON_3_12' };
    expect(runtime.targets!.runtime.inputs).toContainEqual(identity);
    expect(targets.venv.inputs).toContainEqual(identity);
    expect(targets['install'].inputs).toContain('{projectRoot}/**/*');
    expect(runtime.targets!.runtime.inputs).not.toContain('{projectRoot}/**/*');
  });

  it('gives each platform in "platforms" its own targets, runtime (mapped by the plugin\'s "pythons") and folders; publish and verify run them all', async () => {
    const sha = 'a'.repeat(64);
    const { dir, cleanup } = testdir({
      'environments/both/environment.json': JSON.stringify({ python: '3.11', platforms: ['linux', 'windows'] }),
      'environments/win/environment.json': JSON.stringify({ python: '3.11', platforms: ['windows'] }),
      'pythons/cp311.zip': 'zip',
    });
    try {
      const ctx: CreateNodesContextV2 = { workspaceRoot: dir, nxJsonConfiguration: {} };
      const options = { pythons: { windows: { '3.11': { archive: './pythons/cp311.zip', sha256: sha } } } };
      const results = await createNodes(['environments/both/environment.json', 'environments/win/environment.json'], options, ctx);
      const projects = Object.assign({}, ...results.map(([, r]) => r.projects)) as Record<string, any>;
      const both = projects['environments/both'].targets;
      expect(Object.keys(both)).toEqual(expect.arrayContaining(['venv', 'install', 'publish', 'venv-windows', 'install-windows', 'publish-windows', 'verify-windows', 'rollback-windows']));
      expect(both.publish.dependsOn).toEqual(['install', 'publish-windows']);
      expect(both.verify.dependsOn).toEqual(['verify-windows']);
      expect(both['venv-windows'].options).toEqual({ stage: 'venv', environment: 'environments/both/environment.json', buildDir: 'dist/pydepot/windows', platform: 'windows', runtime: 'dist/pydepot/windows/_runtimes/python-3.11-windows.json', outputPath: 'dist/pydepot/windows/both/venv', delta: true });
      expect(both['venv-windows'].dependsOn).toEqual([{ projects: ['python-3.11-windows'], target: 'runtime' }]);
      expect(both['venv-windows'].inputs).toContainEqual({ env: 'PYDEPOT_RUNTIME_PYTHON_3_11_WINDOWS' });
      expect(both['venv-windows'].inputs).not.toContainEqual({ env: 'PYDEPOT_RUNTIME_PYTHON_3_11' });
      expect(both['publish-windows'].options).toMatchObject({ platform: 'windows', inputPath: 'dist/pydepot/windows/both/install' });
      expect(both['rollback-windows'].options).toMatchObject({ platform: 'windows' });
      // The Windows runtime: the workspace's mapping, canonical (workspace-relative), with the platform in its request.
      const runtime = projects['environments/.runtimes/python-3.11-windows'].targets.runtime;
      expect(runtime.options).toEqual({ python: { archive: 'pythons/cp311.zip', sha256: sha }, includeStdlibTests: false, platform: 'windows', outputPath: 'dist/pydepot/windows/_runtimes/python-3.11-windows.json' });
      // Windows only: no Linux stages or runtime; publish and verify stand for the Windows ones.
      const win = projects['environments/win'].targets;
      expect(Object.keys(win)).not.toContain('venv');
      expect(win.publish).toMatchObject({ executor: 'nx:noop', dependsOn: ['publish-windows'] });
      expect([...declaredRuntimes(dir, options.pythons).keys()].sort()).toEqual(['python-3.11', 'python-3.11-windows']);
    } finally {
      cleanup();
    }
  });

  it('starts an environment with a base from the base\'s build, and draws the graph edges from the files', async () => {
    const { dir, cleanup } = testdir({
      'environments/base-env/environment.json': JSON.stringify({ python: '3.12', packages: ['requests'] }),
      'environments/tool/environment.json': JSON.stringify({ base: 'base-env', packages: ['Studio_Utils>=1', 'rich'] }),
      'environments/other/environment.json': JSON.stringify({ python: '3.12', requirements: ['requirements.txt'] }),
      'environments/other/requirements.txt': '# pinned\nstudio-utils==0.1.0  # in-repo\n',
      'libs/python/studio-utils/pyproject.toml': '[project]\nname = "studio-utils"\nversion = "0.1.0"\ndependencies = ["studio-core>=1", "pillow"]\n',
      'libs/python/studio-core/pyproject.toml': '[project]\nname = "studio_core"\nversion = "1.0"\n',
    });
    try {
      const ctx: CreateNodesContextV2 = { workspaceRoot: dir, nxJsonConfiguration: {} };
      const files = ['environments/base-env/environment.json', 'environments/tool/environment.json', 'environments/other/environment.json', 'libs/python/studio-utils/pyproject.toml', 'libs/python/studio-core/pyproject.toml'];
      const results = await createNodes(files, {}, ctx);
      const projects = Object.assign({}, ...results.map(([, r]) => r.projects)) as Record<string, any>;
      const tool = projects['environments/tool'].targets;
      expect(Object.keys(tool)).not.toContain('unpack');
      expect(tool.venv.options.inputPath).toBe('dist/pydepot/base-env/install');
      // Built on a base: the base's runtime; one runtime project for the two environments on 3.12.
      expect(tool.venv.options.runtime).toBe('dist/pydepot/_runtimes/python-3.12.json');
      expect(Object.keys(projects).filter((root) => root.startsWith('environments/.runtimes/'))).toEqual(['environments/.runtimes/python-3.12']);
      expect(tool.venv.dependsOn).toEqual([{ projects: ['base-env'], target: 'install' }]);
      expect(projects['libs/python/studio-utils'].targets['build-wheel'].options.outputPath).toBe('dist/python/studio-utils');
      const graphProjects = Object.fromEntries(Object.values(projects).map((p: any) => [p.name, p]));
      const deps = await createDependencies!({}, { workspaceRoot: dir, projects: graphProjects } as any);
      // Environment → runtime is a task edge (venv dependsOn python-3.x:runtime), not a project-graph edge:
      // a runtime has no files, and Nx's hasher cannot walk `^` inputs into a project without any.
      expect(deps.map((d) => `${d.source} -> ${d.target}`).sort()).toEqual(['other -> studio-utils', 'studio-utils -> studio-core', 'tool -> base-env', 'tool -> studio-utils']);
    } finally {
      cleanup();
    }
  });

  it('takes target names as options', async () => {
    const results = await createNodes(['environments/a/environment.json'], { publishTargetName: 'deploy', verifyTargetName: 'smoke' }, context);
    const targets = results[0][1].projects!['environments/a'].targets!;
    // One executor for the stage chain (Nx runs it in one batch process); the option names the stage.
    expect(targets.deploy.executor).toBe('@pydepot/nx-plugin:stage');
    expect(targets.deploy.options.stage).toBe('publish');
    // verify checks what is current: it never builds or publishes first (that could undo a rollback).
    expect(targets.smoke.dependsOn).toBeUndefined();
  });

  it("makes the plugin's own code an input, or its package when installed outside the workspace", () => {
    expect(pluginInputs(workspace)).toContain('{workspaceRoot}/libs/core/src/**/*');
    const { dir, cleanup } = testdir();
    try {
      expect(pluginInputs(dir)).toEqual([{ externalDependencies: ['@pydepot/nx-plugin'] }]);
    } finally {
      cleanup();
    }
  });

  it('finds the environments on a "base" cycle (a self-base too), so their edges are left out and the rest of the graph loads', () => {
    const bases = new Map([
      ['a', { base: 'b', file: 'environments/a/environment.json' }],
      ['b', { base: 'c', file: 'environments/b/environment.json' }],
      ['c', { base: 'a', file: 'environments/c/environment.json' }],
      ['d', { base: 'a', file: 'environments/d/environment.json' }],
      ['self', { base: 'self', file: 'environments/self/environment.json' }],
    ]);
    expect([...baseCycles(bases)].sort()).toEqual(['a', 'b', 'c', 'self']);
  });

  it('sets each runtime identity once, before tasks run, in the variable its targets hash (no process per input)', async () => {
    const { dir, cleanup } = testdir({
      'environments/a/environment.json': JSON.stringify({ python: '3.12' }),
      'environments/b/environment.json': JSON.stringify({ python: '3.12', packages: ['x'] }),
      'environments/group/c/environment.json': JSON.stringify({ python: { archive: '../../../py.tar.gz', sha256: 'a'.repeat(64) } }),
      'environments/d/environment.json': JSON.stringify({ base: 'a' }),
      'environments/broken/environment.json': '{',
    });
    try {
      expect([...declaredRuntimes(dir).keys()].sort()).toEqual(['python-3.12', expect.stringMatching(/^python-archive-[0-9a-f]{8}$/)]);
      const before = { ...process.env };
      await preTasksExecution!(undefined, { workspaceRoot: dir, nxJsonConfiguration: {}, id: 'x', argv: [] } as never);
      const set = Object.keys(process.env).filter((k) => k.startsWith('PYDEPOT_RUNTIME_') && process.env[k] !== before[k]);
      expect(set.sort()).toEqual(['PYDEPOT_RUNTIME_PYTHON_3_12', runtimeIdentityVariable([...declaredRuntimes(dir).keys()].find((p) => p.includes('archive'))!)].sort());
      // What identifies the Python, never where it is installed.
      expect(process.env.PYDEPOT_RUNTIME_PYTHON_3_12).toMatch(/3\.12/);
      expect(process.env.PYDEPOT_RUNTIME_PYTHON_3_12).not.toContain('/.pyenv/');
      for (const k of set) delete process.env[k];
    } finally {
      cleanup();
    }
  });

  it("keys each publish on its depot's state, and on a value of its own whenever a publish setting comes from where it cannot look", async () => {
    const { dir, cleanup } = testdir({
      'environments/tool/environment.json': JSON.stringify({ python: '3.12', platforms: ['linux', 'windows'] }),
      'environments/git-tool/environment.json': JSON.stringify({ python: '3.12', publish: { to: 'git', depot: 'https://example.invalid/depot.git' } }),
      'environments/own/environment.json': JSON.stringify({ python: '3.12' }),
      'environments/own/project.json': JSON.stringify({ targets: { publish: { options: { depot: '/elsewhere' } } } }),
      'b1/bin/python': 'py',
      'b1/pydepot.json': JSON.stringify(fakeManifest('v1')),
    });
    try {
      const depot = path.join(dir, 'dist/depot');
      for (const name of ['tool', 'own']) await new DirectoryPublisher(depot).publish({ buildPath: path.join(dir, 'b1'), manifest: { ...fakeManifest('v1'), name }, log: () => undefined });
      const states = (extra: Partial<Parameters<typeof publishedStates>[1]> = {}) => publishedStates(environmentSpecs(dir), { workspaceRoot: dir, depot: 'dist/depot', publishTargetName: 'publish', env: {}, ...extra });
      const [a, b] = [await states(), await states()];
      const tool = publishedStateVariable('tool');
      expect(Object.keys(a).sort()).toEqual(['PYDEPOT_PUBLISHED_GIT_TOOL', 'PYDEPOT_PUBLISHED_OWN', tool, 'PYDEPOT_PUBLISHED_TOOL_WINDOWS'].sort());
      // The published folder depot: the same key while nothing changes.
      expect(a[tool]).toMatch(/^[0-9a-f]{64}$/);
      expect(b[tool]).toBe(a[tool]);
      // Nothing published for Windows yet, a git publisher, a project.json's own publish options: never the same twice.
      for (const k of ['PYDEPOT_PUBLISHED_TOOL_WINDOWS', 'PYDEPOT_PUBLISHED_GIT_TOOL', 'PYDEPOT_PUBLISHED_OWN']) expect(a[k]).not.toBe(b[k]);
      // Another depot by PYDEPOT_DEPOT: its own state (here: nothing published, so no key).
      expect((await states({ env: { PYDEPOT_DEPOT: path.join(dir, 'other') } }))[tool]).not.toBe(a[tool]);
      // Publish options on the command line, in nx.json targetDefaults, or a fault injected: not replayed.
      const overrides: Array<Partial<PublishedStateOptions>> = [
        { argv: ['node', 'nx', 'run', 'tool:publish', '--depot=/x'] },
        { argv: ['nx', 'run-many', '-t', 'publish', '--keep-days', '2'] },
        { nxJson: { targetDefaults: { publish: { options: { keep: 2 } } } } },
        { nxJson: { targetDefaults: { '@pydepot/nx-plugin:stage': { options: { keep: 2 } } } } },
        { env: { PYDEPOT_FAULT_KILL_AT: 'renamed' } },
      ];
      for (const extra of overrides) {
        const once = await states(extra);
        expect([once[tool], (await states(extra))[tool]]).not.toContain(a[tool]);
        expect(once[tool]).not.toBe((await states(extra))[tool]);
      }
      // The state moves with the depot: a file of the depot's content changes nothing, current does.
      writeFiles(depot, { 'tool/notes.txt': 'x' });
      expect((await states())[tool]).toBe(a[tool]);
      writeFiles(depot, { 'tool/current.json': JSON.stringify({ version: 'v1', path: 'v1' }) });
      expect((await states())[tool]).not.toBe(a[tool]);
    } finally {
      cleanup();
    }
  });
});
