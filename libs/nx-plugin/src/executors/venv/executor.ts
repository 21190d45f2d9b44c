import type { ExecutorContext } from '@nx/devkit';
import { createEnvironment } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { VenvExecutorSchema } from './schema';

export default async function venvExecutor(options: VenvExecutorSchema, context: ExecutorContext) {
  return runExecutor('venv', options, context, async (env) => {
    const spec = env.spec();
    const inputPath = await env.input(env.previousStage('venv', options.inputPath));
    const outputPath = env.stage('venv', options.outputPath);
    await createEnvironment({
      inputPath,
      outputPath,
      name: spec.name,
      description: spec.description,
      log: env.log,
    });
    await env.finishStage(outputPath, inputPath);
  });
}
