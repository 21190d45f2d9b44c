import type { ExecutorContext } from '@nx/devkit';
import { installRequirements, runStage } from '@pydepot/core';
import { runExecutor } from '../../utils/run-executor';
import type { InstallExecutorSchema } from './schema';

export default async function installExecutor(options: InstallExecutorSchema, context: ExecutorContext) {
  return runExecutor('install', options, context, async (env) => {
    const outputPath = env.stage('install', options.outputPath);
    await env.runtime();
    const stage = { input: env.previousStage('install', options.inputPath), output: outputPath, delta: options.delta };
    const manifest = await runStage(stage, (inputPath) =>
      installRequirements({
        inputPath: inputPath!,
        outputPath,
        spec: env.spec(),
        cacheDir: env.cacheDir,
        installer: options.installer,
        localWheelDirs: env.localWheelDirs(),
        inputHash: env.taskHash,
        forbiddenPaths: env.forbiddenPaths(),
        log: env.log,
      }),
    );
    env.log(`version ${manifest.version}: ${manifest.packages.map((p) => `${p.name}==${p.version}`).join(' ')}`);
  });
}
