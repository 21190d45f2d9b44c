import type { ExecutorContext } from '@nx/devkit';
import { getPublisher, publisherSettings, verifyPublished } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { VerifyExecutorSchema } from './schema';

export default async function verifyExecutor(options: VerifyExecutorSchema, context: ExecutorContext) {
  return runExecutor('verify', options, context, async (env) => {
    const spec = env.spec();
    const publisher = getPublisher(publisherSettings({ spec, targetOptions: options, workspaceRoot: env.workspaceRoot, platform: options.platform }));
    const result = await verifyPublished({
      spec,
      publisher,
      forbiddenPaths: options.audit === false ? undefined : env.forbiddenPaths(),
      full: options.full,
      log: env.log,
    });
    if (result.skipped) env.log(`warning: ${result.skipped}`);
    const files = result.filesChecked ? `, ${result.filesChecked} files intact${options.full ? ' (sha256)' : ''}` : '';
    env.log(`${spec.name} ${result.version}: ${result.passed.length} check${result.passed.length === 1 ? '' : 's'} passed${result.audited ? ', audit clean' : ''}${files} (${result.passed.join('; ')})`);
  });
}
