import * as path from 'node:path';
import { EnvironmentSpec } from '../spec/environment';
import type { PublisherSettings } from './index';

/**
 * Where an environment is published, most specific first: the spec's
 * "publish.depot", then PYDEPOT_DEPOT (a CI agent pointing at the share),
 * then the workspace default (the plugin's "depot" option, dist/depot).
 * Relative paths are relative to the workspace root; URLs (a git remote) are
 * kept as they are.
 */
export function resolveDepot(options: { specDepot?: string; workspaceDefault?: string; workspaceRoot: string; env?: NodeJS.ProcessEnv }): string {
  const env = options.env ?? process.env;
  const chosen = options.specDepot ?? (env.PYDEPOT_DEPOT || undefined) ?? options.workspaceDefault ?? 'dist/depot';
  return isRemote(chosen) ? chosen : path.resolve(options.workspaceRoot, chosen);
}

/** `https://…`, `ssh://…`, `file://…` or scp-like `git@host:repo`. */
function isRemote(p: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p) || /^[\w.-]+@[\w.-]+:/.test(p);
}

/** The publisher settings of one environment: its spec's "publish" first, then the target's options. */
export function publisherSettings(options: {
  spec: EnvironmentSpec;
  targetOptions: Omit<PublisherSettings, 'depot'> & { depot?: string };
  workspaceRoot: string;
  env?: NodeJS.ProcessEnv;
}): PublisherSettings {
  const { spec, targetOptions } = options;
  return {
    to: spec.publish.to ?? targetOptions.to,
    depot: resolveDepot({ specDepot: spec.publish.depot, workspaceDefault: targetOptions.depot, workspaceRoot: options.workspaceRoot, env: options.env }),
    keep: spec.publish.keep ?? targetOptions.keep,
    keepDays: spec.publish.keepDays ?? targetOptions.keepDays,
    groupWritable: spec.publish.groupWritable ?? targetOptions.groupWritable,
    branch: spec.publish.branch ?? targetOptions.branch,
    lfs: spec.publish.lfs ?? targetOptions.lfs,
    formats: spec.publish.formats ?? targetOptions.formats,
  };
}
