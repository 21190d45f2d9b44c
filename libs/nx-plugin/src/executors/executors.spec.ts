import type { ExecutorContext } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import publish from './publish/executor';
import unpack from './unpack/executor';
import { batchOf, runExecutor } from '../utils/run-executor';

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

describe('executors', () => {
  let errors: string[] = [];
  beforeEach(() => {
    errors = [];
    jest.spyOn(console, 'error').mockImplementation((m: string) => void errors.push(m));
    jest.spyOn(console, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

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
      expect(results['a:publish']).toEqual({ success: true, terminalOutput: 'pydepot fake a: working on a\n' });
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
});
