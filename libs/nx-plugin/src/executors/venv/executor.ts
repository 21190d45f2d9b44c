import type { ExecutorContext } from '@nx/devkit';
import { createEnvironment, createSharedEnvironment, decideLayout, runStage } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { VenvExecutorSchema } from './schema';

export default async function venvExecutor(options: VenvExecutorSchema, context: ExecutorContext) {
  return runExecutor('venv', options, context, async (env) => {
    const spec = env.spec();
    const output = env.stage('venv', options.outputPath);
    const named = { outputPath: output, name: spec.name, description: spec.description, log: env.log };
    const runtime = await env.runtime();
    // Built on a base: a copy of the base's finished build (which knows its runtime and layout).
    if (spec.base || !runtime) {
      await runStage({ input: env.previousStage('venv', options.inputPath), output, delta: options.delta }, (inputPath) => createEnvironment({ ...named, inputPath: inputPath! }));
      return;
    }
    // The spec's layout (already decided by the loader), confirmed by what the built runtime can do.
    const decision = decideLayout({ intent: spec.layout, publishTo: spec.publish.to, runtime: { launcher: runtime.manifest.launcher, version: runtime.manifest.python.version } });
    if (decision.layout === 'shared') {
      await runStage({ output, delta: options.delta }, () => createSharedEnvironment({ ...named, runtime }));
      env.log(`shared layout: runs on runtime ${runtime.manifest.id}`);
      return;
    }
    if (spec.layout === 'shared') env.log(`runtime ${runtime.manifest.id} cannot be shared (${decision.reason}): this environment gets a private copy of it (layout "self-contained")`);
    await runStage({ input: runtime.root, output, delta: options.delta }, (inputPath) => createEnvironment({ ...named, inputPath: inputPath! }));
  });
}
