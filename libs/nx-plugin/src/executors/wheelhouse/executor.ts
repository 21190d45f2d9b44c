import type { ExecutorContext } from '@nx/devkit';
import { downloadWheelhouse, WHEELHOUSE_ENV } from '@pydepot/core';
import * as path from 'node:path';
import { DEFAULT_WHEELHOUSE_DIR } from '../../utils/paths';
import { runExecutor } from '../../utils/run-executor';
import type { WheelhouseExecutorSchema } from './schema';

export default async function wheelhouseExecutor(options: WheelhouseExecutorSchema, context: ExecutorContext) {
  return runExecutor('wheelhouse', options, context, async (env) => {
    const outputPath = env.abs(options.outputPath ?? path.posix.join(DEFAULT_WHEELHOUSE_DIR, env.project));
    const files = await downloadWheelhouse({
      inputPath: await env.input(env.stage('venv', options.inputPath)),
      outputPath,
      spec: env.spec(),
      cacheDir: env.cacheDir,
      localWheelDirs: env.localWheelDirs(),
      log: env.log,
    });
    env.log(`${files.length} artifacts in ${path.relative(env.workspaceRoot, outputPath)}; build air-gapped with ${WHEELHOUSE_ENV}=${path.relative(env.workspaceRoot, path.dirname(outputPath))}`);
  });
}
