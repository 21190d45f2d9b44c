import type { ExecutorContext } from '@nx/devkit';
import { unpackDistribution } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { UnpackExecutorSchema } from './schema';

export default async function unpackExecutor(options: UnpackExecutorSchema, context: ExecutorContext) {
  return runExecutor('unpack', options, context, async (env) => {
    const manifest = await unpackDistribution({ spec: env.spec(), outputPath: env.stage('unpack', options.outputPath), cacheDir: env.cacheDir, log: env.log });
    env.log(`CPython ${manifest.python.version} (${manifest.python.source.kind}) ready`);
  });
}
