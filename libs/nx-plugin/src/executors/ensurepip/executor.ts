import type { ExecutorContext } from '@nx/devkit';
import { bootstrapPip } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { EnsurepipExecutorSchema } from './schema';

export default async function ensurepipExecutor(options: EnsurepipExecutorSchema, context: ExecutorContext) {
  return runExecutor('ensurepip', options, context, async (env) => {
    const manifest = await bootstrapPip({
      inputPath: env.previousStage('ensurepip', options.inputPath),
      outputPath: env.stage('ensurepip', options.outputPath),
      log: env.log,
    });
    env.log(`pip ${manifest.packages.find((p) => p.name.toLowerCase() === 'pip')?.version ?? '?'} installed`);
  });
}
