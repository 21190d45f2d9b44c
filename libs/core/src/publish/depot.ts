import * as path from 'node:path';

/**
 * Where an environment is published, most specific first: the spec's
 * "publish.depot", then PYDEPOT_DEPOT (a CI agent pointing at the share),
 * then the workspace default (the plugin's "depot" option, dist/depot).
 * Relative paths are relative to the workspace root.
 */
export function resolveDepot(options: { specDepot?: string; workspaceDefault?: string; workspaceRoot: string; env?: NodeJS.ProcessEnv }): string {
  const env = options.env ?? process.env;
  const chosen = options.specDepot ?? (env.PYDEPOT_DEPOT || undefined) ?? options.workspaceDefault ?? 'dist/depot';
  return path.resolve(options.workspaceRoot, chosen);
}
