import type { ExecutorContext } from '@nx/devkit';
import { buildWheel } from '@pydepot/core';
import * as path from 'node:path';
import { DEFAULT_WHEEL_DIR } from '../../utils/paths';
import { runExecutor } from '../../utils/run-executor';
import type { BuildWheelExecutorSchema } from './schema';

export default async function buildWheelExecutor(options: BuildWheelExecutorSchema, context: ExecutorContext) {
  return runExecutor('build-wheel', {}, context, async (env) => {
    const wheel = await buildWheel({
      projectDir: env.abs(env.projectRoot),
      outputPath: env.abs(options.outputPath ?? path.posix.join(DEFAULT_WHEEL_DIR, env.project)),
      cacheDir: env.cacheDir,
      python: options.python,
      log: env.log,
    });
    env.log(`built ${path.relative(env.workspaceRoot, wheel.file)}`);
  });
}
