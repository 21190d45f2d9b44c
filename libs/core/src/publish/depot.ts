import * as path from 'node:path';
import { EnvironmentSpec } from '../model/environment';
import { platformFolder, TargetPlatform } from '../model/platform';
import environmentSchema from '../model/environment.schema.json';
import type { PublisherOptions, PublisherSettings } from './index';

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

/** The publisher settings of one environment: its spec's "publish" first, then the target's options, field by field (every field the spec schema's "publish" has). */
export function publisherSettings(options: { spec: EnvironmentSpec; targetOptions: PublisherOptions; workspaceRoot: string; env?: NodeJS.ProcessEnv; platform?: TargetPlatform }): PublisherSettings {
  const { spec, targetOptions } = options;
  const merged: Record<string, unknown> = {};
  for (const key of Object.keys(environmentSchema.properties.publish.properties)) {
    merged[key] = (spec.publish as Record<string, unknown>)[key] ?? (targetOptions as Record<string, unknown>)[key];
  }
  const depot = resolveDepot({ specDepot: spec.publish.depot, workspaceDefault: targetOptions.depot, workspaceRoot: options.workspaceRoot, env: options.env });
  // Each platform's versions in their own depot folder (model/platform.ts): Windows under <depot>/windows.
  return { ...(merged as Omit<PublisherSettings, 'depot'>), depot: options.platform ? platformFolder(depot, options.platform, path.join) : depot };
}
