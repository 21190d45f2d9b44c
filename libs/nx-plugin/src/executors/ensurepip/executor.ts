import type { ExecutorContext } from '@nx/devkit';
import { bootstrapPip, runStage } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { EnsurepipExecutorSchema } from './schema';

export default async function ensurepipExecutor(options: EnsurepipExecutorSchema, context: ExecutorContext) {
  return runExecutor('ensurepip', options, context, async (env) => {
    const outputPath = env.stage('ensurepip', options.outputPath);
    const stage = { input: env.previousStage('ensurepip', options.inputPath), output: outputPath, delta: options.delta };
    const manifest = await runStage(stage, (inputPath) => bootstrapPip({ inputPath: inputPath!, outputPath, log: env.log }));
    env.log(`pip ${manifest.packages.find((p) => p.name.toLowerCase() === 'pip')?.version ?? '?'} installed`);
  });
}
