import type { ExecutorContext } from '@nx/devkit';
import { bootstrapPip } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { EnsurepipExecutorSchema } from './schema';

export default async function ensurepipExecutor(options: EnsurepipExecutorSchema, context: ExecutorContext) {
  return runExecutor('ensurepip', options, context, async (env) => {
    const inputPath = await env.input(env.previousStage('ensurepip', options.inputPath));
    const outputPath = env.stage('ensurepip', options.outputPath);
    const manifest = await bootstrapPip({ inputPath, outputPath, log: env.log });
    await env.finishStage(outputPath, inputPath);
    env.log(`pip ${manifest.packages.find((p) => p.name.toLowerCase() === 'pip')?.version ?? '?'} installed`);
  });
}
