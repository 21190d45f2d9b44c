import type { ExecutorContext } from '@nx/devkit';
import { installRequirements, runStage } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { PipInstallExecutorSchema } from './schema';

export default async function pipInstallExecutor(options: PipInstallExecutorSchema, context: ExecutorContext) {
  return runExecutor('pip-install', options, context, async (env) => {
    const outputPath = env.stage('pip-install', options.outputPath);
    await env.runtime();
    const stage = { input: env.previousStage('pip-install', options.inputPath), output: outputPath, delta: options.delta };
    const manifest = await runStage(stage, (inputPath) =>
      installRequirements({
        inputPath: inputPath!,
        outputPath,
        spec: env.spec(),
        cacheDir: env.cacheDir,
        installer: options.installer,
        localWheelDirs: env.localWheelDirs(),
        inputHash: env.taskHash,
        forbiddenPaths: [env.workspaceRoot, env.abs(options.buildDir ?? 'dist/pydepot')],
        log: env.log,
      }),
    );
    env.log(`version ${manifest.version}: ${manifest.packages.map((p) => `${p.name}==${p.version}`).join(' ')}`);
  });
}
