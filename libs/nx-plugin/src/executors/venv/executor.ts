import type { ExecutorContext } from '@nx/devkit';
import { createEnvironment, createVenvStage, runStage } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { VenvExecutorSchema } from './schema';

export default async function venvExecutor(options: VenvExecutorSchema, context: ExecutorContext) {
  return runExecutor('venv', options, context, async (env) => {
    const spec = env.spec();
    const outputPath = env.stage('venv', options.outputPath);
    const runtime = await env.runtime();
    // Built on a base (or configured by hand without a runtime): a copy of the previous stage's finished build.
    if (spec.base || !runtime) {
      await runStage({ input: env.previousStage('venv', options.inputPath), output: outputPath, delta: options.delta }, (inputPath) =>
        createEnvironment({ inputPath: inputPath!, outputPath, name: spec.name, description: spec.description, log: env.log }),
      );
      return;
    }
    await createVenvStage({ spec, runtime, outputPath, delta: options.delta, log: env.log });
  });
}
