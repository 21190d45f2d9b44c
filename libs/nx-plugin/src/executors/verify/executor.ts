import type { ExecutorContext } from '@nx/devkit';
import { verifyPublished, resolveDepot } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { VerifyExecutorSchema } from './schema';

export default async function verifyExecutor(options: VerifyExecutorSchema, context: ExecutorContext) {
  return runExecutor('verify', options, context, async (env) => {
    const spec = env.spec();
    const buildPath = await env.input(env.stage('pip-install', options.inputPath));
    const result = await verifyPublished({
      spec,
      depot: resolveDepot({ specDepot: spec.publish.depot, workspaceDefault: options.depot, workspaceRoot: env.workspaceRoot }),
      buildPath,
      forbiddenPaths: options.audit === false ? undefined : [env.workspaceRoot, env.abs(options.buildDir ?? 'dist/pydepot')],
      log: env.log,
    });
    env.log(`${result.location}: ${result.passed.length} check${result.passed.length === 1 ? '' : 's'} passed${result.audited ? ', audit clean' : ''} (${result.passed.join('; ')})`);
  });
}
