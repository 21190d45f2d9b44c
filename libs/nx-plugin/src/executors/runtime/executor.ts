import type { ExecutorContext } from '@nx/devkit';
import { buildRuntime } from '@pydepot/core';
import * as path from 'node:path';
import { DEFAULT_BUILD_DIR } from '../../utils/paths';
import { runExecutor } from '../../utils/run-executor';
import type { RuntimeExecutorSchema } from './schema';

export default async function runtimeExecutor(options: RuntimeExecutorSchema, context: ExecutorContext) {
  return runExecutor('runtime', {}, context, async (env) => {
    const manifestPath = env.abs(options.outputPath ?? path.posix.join(DEFAULT_BUILD_DIR, '_runtimes', `${env.project}.json`));
    const runtime = await buildRuntime({
      request: { python: options.python, includeStdlibTests: options.includeStdlibTests ?? false },
      workspaceRoot: env.workspaceRoot,
      manifestPath,
      cacheDir: env.cacheDir,
      log: env.log,
    });
    env.log(`CPython ${runtime.python.version} (${runtime.python.source.kind}) is runtime ${runtime.id}${runtime.launcher ? '' : ' (no launcher: its environments are self-contained)'}`);
  });
}
