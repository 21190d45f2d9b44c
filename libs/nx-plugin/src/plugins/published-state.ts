import { randomUUID } from 'node:crypto';
import * as path from 'node:path';
import type { NxJsonConfiguration } from '@nx/devkit';
import { readSpecLeniently } from '../../../core/src/model/declared';
import { declaredPlatforms, isForeign, TargetPlatform } from '../../../core/src/model/platform';
import type { EnvironmentSpec } from '../../../core/src/model/environment';
import environmentSchema from '../../../core/src/model/environment.schema.json';
import { EXECUTORS, STAGE_EXECUTOR } from './executor-names';
import { pydepotVariable, type FoundSpec } from './runtime-identities';

/*
 * Publish from Nx's cache (docs/ARCHITECTURE.md, "Publish from the cache").
 * A publish task is cached, and one of its inputs is the state of the depot
 * it publishes to, read here before Nx hashes anything: the key of
 * core/publish/current-state.ts when the depot could answer "up to date",
 * otherwise a value no run repeats. With the install stage's manifest (the
 * version to publish) among its inputs too, a cache hit replays a publish
 * that found this very depot state and this very version, and so answered
 * "up to date"; anything else runs the executor, as before.
 *
 * Only what this hook can see for certain is keyed: a folder depot named by
 * the spec, PYDEPOT_DEPOT or the plugin's "depot". Any other source of a
 * publish setting (a git or archive publisher, publish options in nx.json
 * targetDefaults or a project.json, a publish option on the command line,
 * a fault-injection variable) gets a value of its own for this run: never
 * replayed.
 */

/** The environment variable that carries an environment's depot state: PYDEPOT_PUBLISHED_TOOL_0 (PYDEPOT_PUBLISHED_TOOL_0_WINDOWS). */
export function publishedStateVariable(project: string, platform?: TargetPlatform): string {
  return pydepotVariable('PUBLISHED', [project, ...(platform && isForeign(platform) ? [platform] : [])].join('_'));
}

const PUBLISHER_KEYS = Object.keys(environmentSchema.properties.publish.properties);
const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

export interface PublishedStateOptions {
  workspaceRoot: string;
  /** The plugin's "depot" option. */
  depot: string;
  publishTargetName: string;
  nxJson?: NxJsonConfiguration;
  argv?: string[];
  env?: NodeJS.ProcessEnv;
}

/** The variables for every environment's publish target(s), each depot state read once per run. */
export async function publishedStates(specs: FoundSpec[], options: PublishedStateOptions): Promise<Record<string, string>> {
  const env = options.env ?? process.env;
  const never = randomUUID();
  const out: Record<string, string> = {};
  const runWide = overriddenOutsideSpecs(options) || Object.keys(env).some((k) => k.startsWith('PYDEPOT_FAULT_') && env[k]);
  // Loaded only when some depot is read: the module and the runtime checks it shares between environments.
  let core: typeof import('../../../core/src/publish/current-state') & typeof import('../../../core/src/publish/depot');
  const runtimeChecks = new Map<string, Promise<boolean>>();
  await Promise.all(
    specs.flatMap(({ file, name, spec }) =>
      declaredPlatforms(spec.platforms).map(async (platform) => {
        const variable = publishedStateVariable(name, platform);
        const publish = (spec.publish ?? {}) as { to?: unknown; depot?: unknown };
        if (runWide || (publish.to !== undefined && publish.to !== 'directory') || (publish.depot !== undefined && typeof publish.depot !== 'string') || projectOverridesPublish(file, options.publishTargetName)) {
          out[variable] = never;
          return;
        }
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        core ??= { ...require('../../../core/src/publish/current-state'), ...require('../../../core/src/publish/depot') };
        // The depot as the publish executor resolves it (a foreign platform's target carries `platform`, the host's does not).
        const { depot } = core.publisherSettings({ spec: { publish } as EnvironmentSpec, targetOptions: { depot: options.depot }, workspaceRoot: options.workspaceRoot, env, platform: isForeign(platform) ? platform : undefined });
        if (!path.isAbsolute(depot)) {
          out[variable] = never; // a URL: not a folder publisher's depot
          return;
        }
        out[variable] = (await core.currentStateKey(path.join(depot, name), depot, runtimeChecks)) ?? never;
      }),
    ),
  );
  return out;
}

/** Publish options set where this hook does not read them: nx.json targetDefaults for publish, or the command line. */
function overriddenOutsideSpecs(options: PublishedStateOptions): boolean {
  const defaults = options.nxJson?.targetDefaults ?? {};
  const forPublish = Object.entries(defaults).some(
    ([key, value]) =>
      (key === options.publishTargetName || key.startsWith(`${options.publishTargetName}-`) || key === `${EXECUTORS}:publish` || key === STAGE_EXECUTOR) &&
      [value].flat().some((entry) => entry && typeof entry === 'object' && ('options' in entry || 'configurations' in entry)),
  );
  const flags = new Set(PUBLISHER_KEYS.flatMap((k) => [`--${k}`, `--${kebab(k)}`]));
  const onCommandLine = (options.argv ?? []).some((arg) => flags.has(arg.split('=')[0]));
  return forPublish || onCommandLine;
}

/** A project.json beside the spec that configures a publish target. */
function projectOverridesPublish(specFile: string, publishTargetName: string): boolean {
  const project = readSpecLeniently(path.join(path.dirname(specFile), 'project.json'));
  const targets = (project?.targets ?? {}) as Record<string, unknown>;
  return Object.keys(targets).some((t) => t === publishTargetName || t.startsWith(`${publishTargetName}-`));
}
