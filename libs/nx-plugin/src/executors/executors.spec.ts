import type { ExecutorContext } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import publish from './publish/executor';
import stage from './stage/executor';
import unpack from './unpack/executor';
import { batchConcurrency, batchOf, runExecutor } from '../utils/run-executor';

function contextFor(root: string, project: string): ExecutorContext {
  return {
    root,
    cwd: root,
    isVerbose: false,
    projectName: project,
    targetName: 'unpack',
    projectsConfigurations: { version: 2, projects: { [project]: { root: `environments/${project}` } } },
    nxJsonConfiguration: {},
    projectGraph: { nodes: {}, dependencies: {} },
  } as ExecutorContext;
}

/** What the executors print as errors, captured per test (and nothing printed as output). */
function captureErrors(): string[] {
  const errors: string[] = [];
  beforeEach(() => {
    errors.length = 0;
    jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());
  return errors;
}

describe('executors', () => {
  const errors = captureErrors();

  it('turn a malformed spec into success: false and a message naming the file and the field', async () => {
    const { dir, cleanup } = testdir({ 'environments/broken/environment.json': JSON.stringify({ python: '3.12', packages: [42] }) });
    try {
      expect(await unpack({}, contextFor(dir, 'broken'))).toEqual({ success: false });
      expect(errors.join('\n')).toContain(path.join(dir, 'environments/broken/environment.json'));
      expect(errors.join('\n')).toContain('field "packages[0]" must be a string, got number');
    } finally {
      cleanup();
    }
  });

  it('name the missing Python version and the versions found', async () => {
    const { dir, cleanup } = testdir({ 'environments/old/environment.json': JSON.stringify({ python: '3.99' }) });
    try {
      expect(await unpack({}, contextFor(dir, 'old'))).toEqual({ success: false });
      expect(errors.join('\n')).toMatch(/no installed CPython 3\.99 found; found 3\.\d+\.\d+/);
    } finally {
      cleanup();
    }
  });

  it('refuse to publish a build that did not finish', async () => {
    const { dir, cleanup } = testdir({ 'environments/tool/environment.json': JSON.stringify({ python: '3.12' }) });
    try {
      expect(await publish({}, contextFor(dir, 'tool'))).toEqual({ success: false });
      expect(errors.join('\n')).toMatch(/cannot read .*dist\/pydepot\/tool\/install\/pydepot.json/);
    } finally {
      cleanup();
    }
  });

  it('have a schema.json for every executor in executors.json, with matching folder names', () => {
    const executors = JSON.parse(readFileSync(path.join(__dirname, '../../executors.json'), 'utf8')).executors;
    // Former names kept for hand-written project.json files, and what they are now.
    const renamed: Record<string, string> = { 'pip-install': 'install' };
    for (const [name, entry] of Object.entries<{ implementation: string; schema: string }>(executors)) {
      const current = renamed[name] ?? name;
      // Through the plain-JS entry (no TypeScript transpiler per task), which loads the executor folder's code.
      expect(entry.implementation).toBe(`./executors.js#${current}`);
      expect(typeof require('../../executors.js')[current]).toBe('function');
      const schema = JSON.parse(readFileSync(path.join(__dirname, '../..', entry.schema), 'utf8'));
      expect(schema.title).toBe(current);
      expect(schema.additionalProperties).toBe(false);
    }
  });
});

describe('the stage executor (every inferred venv, install and publish target)', () => {
  const errors = captureErrors();

  it('runs the stage its option names, as that executor does', async () => {
    const { dir, cleanup } = testdir({ 'environments/tool/environment.json': JSON.stringify({ python: '3.12' }) });
    try {
      expect(await stage({ stage: 'publish' }, { ...contextFor(dir, 'tool'), targetName: 'publish' })).toEqual({ success: false });
      expect(errors.join('\n')).toMatch(/pydepot publish failed for tool:[^]*cannot read .*dist\/pydepot\/tool\/install\/pydepot.json/);
    } finally {
      cleanup();
    }
  });

  it("refuses an option of another stage (which Nx's check against the union cannot see), naming the target and the option", async () => {
    expect(await stage({ stage: 'publish', installer: 'uv', depot: 'dist/depot' }, { ...contextFor('/ws', 'tool'), targetName: 'publish' })).toEqual({ success: false });
    expect(errors.join('\n')).toContain('target tool:publish sets "installer", which the publish stage does not take');
    expect(errors.join('\n')).toContain("remove it from the target's options");
    expect(await stage({ stage: 'build' as never }, { ...contextFor('/ws', 'tool'), targetName: 'venv' })).toEqual({ success: false });
    expect(errors.join('\n')).toContain('target tool:venv has "stage": "build"; it must be one of "venv", "install", "publish"');
  });
});

describe('batched executors (Nx batch mode: several tasks in one process)', () => {
  it('run every task of the batch, two at a time, each with its own project context and its own output', async () => {
    let running = 0;
    let most = 0;
    const fake = (options: { fail?: boolean }, context: ExecutorContext) =>
      runExecutor('fake', {}, context, async (env) => {
        running++;
        most = Math.max(most, running);
        await new Promise((resolve) => setTimeout(resolve, 20));
        env.log(`working on ${context.projectName}`);
        running--;
        if (options.fail) throw new Error(`${context.projectName} broke`);
      });
    const tasks = Object.fromEntries(['a', 'b', 'c'].map((p) => [`${p}:publish`, { id: `${p}:publish`, target: { project: p, target: 'publish' }, overrides: {}, outputs: [] }]));
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const results = await batchOf(fake)({ tasks, dependencies: {}, roots: Object.keys(tasks) } as never, { 'a:publish': {}, 'b:publish': { fail: true }, 'c:publish': {} }, {}, contextFor('/ws', 'a'));
      expect(Object.keys(results).sort()).toEqual(['a:publish', 'b:publish', 'c:publish']);
      expect(results['a:publish']).toMatchObject({ success: true, terminalOutput: 'pydepot fake a: working on a\n' });
      expect(results['a:publish'].endTime!).toBeGreaterThanOrEqual(results['a:publish'].startTime! + 15);
      expect(results['b:publish'].success).toBe(false);
      expect(results['b:publish'].terminalOutput).toContain('pydepot fake failed for b:\ninternal error: Error: b broke');
      expect(results['c:publish'].terminalOutput).not.toContain(' a:');
      expect(most).toBe(2);
      // Printed whole, under each task's heading (Nx reports a batch of several tasks as one).
      expect(write.mock.calls.map((c) => String(c[0])).join('')).toContain('\n> nx run c:publish\n\npydepot fake c: working on c\n');
    } finally {
      write.mockRestore();
    }
  });

  it("run NX_PARALLEL tasks at once when it is set, else Nx's default of 3 (fewer on fewer cores)", () => {
    expect(batchConcurrency({ NX_PARALLEL: '6' }, 2)).toBe(6);
    expect(batchConcurrency({}, 16)).toBe(3);
    expect(batchConcurrency({}, 2)).toBe(2);
    expect(batchConcurrency({ NX_PARALLEL: 'lots' }, 1)).toBe(1);
  });

  it("run each task after the batch's tasks it depends on, and skip the dependents of a failure", async () => {
    const order: string[] = [];
    const fake = (options: { fail?: boolean }, context: ExecutorContext) =>
      runExecutor('fake', {}, context, async () => {
        const id = `${context.projectName}:${context.targetName}`;
        order.push(`start ${id}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
        order.push(`end ${id}`);
        if (options.fail) throw new Error(`${id} broke`);
      });
    const ids = ['a:venv', 'a:install', 'a:publish', 'b:venv', 'b:install', 'b:publish'];
    // Listed dependents first: the order of the batch's tasks is not the order they run in.
    const tasks = Object.fromEntries([...ids].reverse().map((id) => [id, { id, target: { project: id.split(':')[0], target: id.split(':')[1] }, overrides: {}, outputs: [] }]));
    const edge = (id: string) => [{ id }];
    // b:venv also depends on a task outside the batch (complete before Nx starts it).
    const dependencies = { 'a:venv': [], 'a:install': edge('a:venv'), 'a:publish': edge('a:install'), 'b:venv': edge('python-3.12:runtime'), 'b:install': edge('b:venv'), 'b:publish': edge('b:install') };
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      const results = await batchOf(fake)({ tasks, dependencies, roots: ['a:venv', 'b:venv'] } as never, { ...Object.fromEntries(ids.map((id) => [id, {}])), 'b:install': { fail: true } }, {}, contextFor('/ws', 'a'));
      for (const [before, after] of [['a:venv', 'a:install'], ['a:install', 'a:publish'], ['b:venv', 'b:install']]) {
        expect(order.indexOf(`end ${before}`)).toBeLessThan(order.indexOf(`start ${after}`));
      }
      expect(results['a:publish'].success).toBe(true);
      expect(results['b:install'].success).toBe(false);
      expect(results['b:publish']).toEqual({ success: false, status: 'skipped', terminalOutput: '' });
      expect(order).not.toContain('start b:publish');
    } finally {
      write.mockRestore();
    }
  });
});
