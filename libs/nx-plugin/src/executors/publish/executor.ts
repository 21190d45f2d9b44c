import type { ExecutorContext } from '@nx/devkit';
import { getPublisher, readManifest, resolveDepot } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { PublishExecutorSchema } from './schema';

export default async function publishExecutor(options: PublishExecutorSchema, context: ExecutorContext) {
  return runExecutor('publish', options, context, async (env) => {
    const buildPath = env.stage('pip-install', options.inputPath);
    const manifest = await readManifest(buildPath);
    const depot = resolveDepot({ specDepot: env.spec().publish.depot, workspaceDefault: options.depot, workspaceRoot: env.workspaceRoot });
    const result = await getPublisher(depot).publish({ buildPath, manifest, log: env.log });
    if (!result.copied && !result.currentChanged) env.log(`${result.location} is up to date; nothing written`);
    else env.log(`published ${result.location}${result.currentChanged ? ' (now current)' : ''}`);
  });
}
