import type { ExecutorContext } from '@nx/devkit';
import { installRequirements } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { PipInstallExecutorSchema } from './schema';

export default async function pipInstallExecutor(options: PipInstallExecutorSchema, context: ExecutorContext) {
  return runExecutor('pip-install', options, context, async (env) => {
    const inputPath = await env.input(env.previousStage('pip-install', options.inputPath));
    const outputPath = env.stage('pip-install', options.outputPath);
    const manifest = await installRequirements({
      inputPath,
      outputPath,
      spec: env.spec(),
      cacheDir: env.cacheDir,
      installer: options.installer,
      localWheelDirs: env.localWheelDirs(),
      inputHash: env.taskHash,
      forbiddenPaths: [env.workspaceRoot, env.abs(options.buildDir ?? 'dist/pydepot')],
      log: env.log,
    });
    await env.finishStage(outputPath, inputPath);
    env.log(`version ${manifest.version}: ${manifest.packages.map((p) => `${p.name}==${p.version}`).join(' ')}`);
  });
}
