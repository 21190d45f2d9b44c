import type { ExecutorContext } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import publish from './publish/executor';
import unpack from './unpack/executor';

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
