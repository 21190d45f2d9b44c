import type { ExecutorContext } from '@nx/devkit';
import { listWheels, lockContext, lockEnvironment, readManifest } from '@pydepot/core';
import * as path from 'node:path';
import { runExecutor } from '../../utils/run-executor';
import type { LockExecutorSchema } from './schema';

export default async function lockExecutor(options: LockExecutorSchema, context: ExecutorContext) {
  return runExecutor('lock', options, context, async (env) => {
    // The unpacked interpreter says which Python the lock is for (its exact version, whatever the source).
    // (For an environment built on a base: its venv stage, whose manifest lists the base's packages.)
    const input = await readManifest(await env.input(env.stage('unpack', options.inputPath)));
    const context = lockContext(input, await listWheels(env.localWheelDirs()));
    const file = await lockEnvironment({ spec: env.spec(), pythonVersion: input.python.version, cacheDir: env.cacheDir, log: env.log, context, platform: options.platform });
    env.log(`wrote ${path.relative(env.workspaceRoot, file)}: review and commit it; the install target now installs only from it`);
  });
}
