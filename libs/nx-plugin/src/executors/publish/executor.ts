import type { ExecutorContext } from '@nx/devkit';
import { checkPublishedTree, getPublisher, publisherSettings, readManifest } from '@pydepot/core';
import { batchOf, runExecutor } from '../../utils/run-executor';
import type { PublishExecutorSchema } from './schema';

export default async function publishExecutor(options: PublishExecutorSchema, context: ExecutorContext) {
  return runExecutor('publish', options, context, async (env) => {
    // The gate runs the version from the depot: a local runtime is needed only to publish it there.
    const buildPath = await env.input(env.stage('install', options.inputPath), { run: false });
    const manifest = await readManifest(buildPath);
    const spec = env.spec();
    const settings = publisherSettings({ spec, targetOptions: options, workspaceRoot: env.workspaceRoot, platform: options.platform });
    const forbiddenPaths = options.audit === false ? undefined : env.forbiddenPaths();
    // The gate: smoke checks and audit on the version as published, before current moves.
    const gate = async (tree: string) => {
      const { passed, audited, skipped } = await checkPublishedTree({ tree, spec, forbiddenPaths });
      if (skipped) env.log(`warning: ${skipped}`);
      env.log(`${passed.length} check${passed.length === 1 ? '' : 's'} passed${audited ? ', audit clean' : ''}`);
    };
    const result = await getPublisher(settings).publish({ buildPath, manifest, log: env.log, gate, provideRuntime: () => env.runtime(), fetchRuntimeTo: (dir) => env.fetchRuntimeTo(dir) });
    if (!result.copied && !result.currentChanged && !result.bytesWritten) env.log(`${result.location} is up to date; nothing written`);
    else if (!result.copied && !result.currentChanged) env.log(`${result.location} is current; its runtime was repaired (${formatBytes(result.bytesWritten)} written)`);
    else {
      const reuse = result.filesLinked ? `, ${result.filesLinked} unchanged files reused` : '';
      env.log(`published ${result.location}${result.currentChanged ? ' (now current)' : ''}: ${formatBytes(result.bytesWritten)} written${reuse}`);
    }
  });
}

function formatBytes(bytes: number): string {
  return bytes < 1 << 20 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}

/** Every publish of a run in one process (Nx batch mode; executors.json `preferBatch`). */
export const batch = batchOf(publishExecutor);
