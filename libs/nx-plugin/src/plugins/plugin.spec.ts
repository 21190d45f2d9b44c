import type { CreateNodesContextV2 } from '@nx/devkit';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { createNodesV2, pluginInputs } from './plugin';

describe('pydepot inference plugin', () => {
  const workspace = path.resolve(__dirname, '../../../..');
  const context: CreateNodesContextV2 = { workspaceRoot: workspace, nxJsonConfiguration: {} };
  const [glob, createNodes] = createNodesV2;

  it('matches environment specs under environments/', () => {
    expect(glob).toBe('environments/**/environment.json');
  });

  it('infers one project per environment with the full target chain', async () => {
    const results = await createNodes(['environments/maxscript-imaging/environment.json'], { depot: '/mnt/depot' }, context);
    expect(results).toMatchSnapshot();
    const project = results[0][1].projects!['environments/maxscript-imaging'];
    const targets = project.targets!;
    expect(Object.keys(targets)).toEqual(['unpack', 'ensurepip', 'venv', 'pip-install', 'publish', 'verify', 'rollback', 'lock']);
    expect(targets['pip-install'].dependsOn).toEqual(['venv']);
    expect(targets.publish.cache).toBe(false);
    expect(targets.publish.options.depot).toBe('/mnt/depot');
    expect(targets.unpack.inputs).toContainEqual({ runtime: 'node libs/nx-plugin/bin/python-identity.js environments/maxscript-imaging/environment.json' });
    expect(targets['pip-install'].inputs).toContain('{projectRoot}/**/*');
    expect(targets.unpack.inputs).not.toContain('{projectRoot}/**/*');
  });

  it('takes target names as options', async () => {
    const results = await createNodes(['environments/a/environment.json'], { publishTargetName: 'deploy', verifyTargetName: 'smoke' }, context);
    const targets = results[0][1].projects!['environments/a'].targets!;
    expect(targets.deploy.executor).toBe('@pydepot/nx-plugin:publish');
    expect(targets.smoke.dependsOn).toEqual(['deploy']);
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
});
