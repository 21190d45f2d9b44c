import type { ExecutorContext } from '@nx/devkit';
import { canShare, createEnvironment, createSharedEnvironment } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { VenvExecutorSchema } from './schema';

export default async function venvExecutor(options: VenvExecutorSchema, context: ExecutorContext) {
  return runExecutor('venv', options, context, async (env) => {
    const spec = env.spec();
    const outputPath = env.stage('venv', options.outputPath);
    const runtime = await env.runtime();
    // Built on a base: a copy of the base's finished build (which knows its runtime and layout).
    if (spec.base || !runtime) {
      const inputPath = await env.input(env.previousStage('venv', options.inputPath));
      await createEnvironment({ inputPath, outputPath, name: spec.name, description: spec.description, log: env.log });
      await env.finishStage(outputPath, inputPath);
      return;
    }
    const unshared = canShare(runtime.manifest);
    if (spec.layout === 'shared' && !unshared) {
      await createSharedEnvironment({ runtime, outputPath, name: spec.name, description: spec.description, log: env.log });
      env.log(`shared layout: runs on runtime ${runtime.manifest.id}`);
      await env.finishStage(outputPath, undefined);
      return;
    }
    if (spec.layout === 'shared') env.log(`runtime ${runtime.manifest.id} cannot be shared (${unshared}): this environment gets a private copy of it (layout "self-contained")`);
    await createEnvironment({ inputPath: runtime.root, outputPath, name: spec.name, description: spec.description, log: env.log });
    await env.finishStage(outputPath, runtime.root);
  });
}
