import type { ExecutorContext } from '@nx/devkit';
import { buildRuntime, loadEnvironmentSpec } from '@pydepot/core';
import { runtimeManifestPath } from '../../utils/paths';
import { runExecutor } from '../../utils/run-executor';
import type { RuntimeExecutorSchema } from './schema';

export default async function runtimeExecutor(options: RuntimeExecutorSchema, context: ExecutorContext) {
  return runExecutor('runtime', {}, context, async (env) => {
    const output = options.outputPath ?? runtimeManifestPath(env.project);
    // Bad input fails in a second, before an interpreter is copied: the specs of this run's environments on this runtime.
    const specFiles = specsOnRuntime(context, output).map(env.abs);
    for (const spec of specFiles) loadEnvironmentSpec(spec);
    const runtime = await buildRuntime({
      request: { python: options.python, includeStdlibTests: options.includeStdlibTests ?? false, ...(options.platform ? { platform: options.platform } : {}) },
      workspaceRoot: env.workspaceRoot,
      manifestPath: env.abs(output),
      cacheDir: env.cacheDir,
      share: env.share,
      specFiles,
      log: env.log,
    });
    env.log(`CPython ${runtime.python.version} (${runtime.python.source.kind}) is runtime ${runtime.id}${runtime.launcher ? '' : ' (no launcher: its environments are self-contained)'}`);
  });
}

/** The spec files of the environments in this run whose stages run on the runtime `manifest`. */
function specsOnRuntime(context: ExecutorContext, manifest: string): string[] {
  const specs = new Set<string>();
  for (const task of Object.values(context.taskGraph?.tasks ?? {})) {
    const target = context.projectsConfigurations?.projects[task.target.project]?.targets?.[task.target.target];
    const options = target?.options as { runtime?: string; environment?: string } | undefined;
    if (options?.runtime === manifest && options.environment) specs.add(options.environment);
  }
  return [...specs].sort();
}
