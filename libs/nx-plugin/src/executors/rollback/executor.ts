import type { ExecutorContext } from '@nx/devkit';
import { getPublisher, publisherSettings } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { RollbackExecutorSchema } from './schema';

export default async function rollbackExecutor(options: RollbackExecutorSchema, context: ExecutorContext) {
  return runExecutor('rollback', options, context, async (env) => {
    const spec = env.spec();
    const settings = publisherSettings({ spec, targetOptions: { ...options, to: options.publisher }, workspaceRoot: env.workspaceRoot, platform: options.platform });
    const result = await getPublisher(settings).rollback({ name: spec.name, to: options.to, log: env.log });
    env.log(result.currentChanged ? `current is now ${result.version} (${result.location})` : `current already is ${result.version}; nothing changed`);
  });
}
