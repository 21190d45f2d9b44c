import {
  createNodesFromFiles,
  type CreateNodesContextV2,
  type CreateNodesV2,
  type PreTasksExecution,
  type TargetConfiguration,
} from '@nx/devkit';
import * as path from 'node:path';
import { DEFAULT_BUILD_DIR, DEFAULT_DEPOT, stagePath, StageTarget } from '../utils/paths';
import { probeRemoteCache } from './remote-cache';

/** Options of the plugin entry in nx.json. Target names are options too. */
export interface PydepotPluginOptions {
  /** Default depot folder (workspace-relative or absolute). */
  depot?: string;
  /** Folder of the stage outputs. */
  buildDir?: string;
  unpackTargetName?: string;
  ensurepipTargetName?: string;
  venvTargetName?: string;
  pipInstallTargetName?: string;
  publishTargetName?: string;
  verifyTargetName?: string;
  rollbackTargetName?: string;
  lockTargetName?: string;
}

export const ENVIRONMENT_GLOB = 'environments/**/environment.json';
const EXECUTORS = '@pydepot/nx-plugin';

type Normalized = Required<PydepotPluginOptions>;

export const createNodesV2: CreateNodesV2<PydepotPluginOptions> = [
  ENVIRONMENT_GLOB,
  async (files, options, context) =>
    createNodesFromFiles((file, opts, ctx) => createEnvironmentProject(file, normalizeOptions(opts), ctx), files, options, context),
];

/**
 * Before tasks run: fall back to the local cache when the remote cache server
 * is down (remote-cache.ts). Nx carries changes to process.env made here into
 * the run, from the daemon and plugin workers too.
 */
export const preTasksExecution: PreTasksExecution<PydepotPluginOptions> = async () => {
  for (const [key, value] of Object.entries(await probeRemoteCache())) process.env[key] = value;
};

export function normalizeOptions(options: PydepotPluginOptions | undefined): Normalized {
  return {
    depot: options?.depot ?? DEFAULT_DEPOT,
    buildDir: options?.buildDir ?? DEFAULT_BUILD_DIR,
    unpackTargetName: options?.unpackTargetName ?? 'unpack',
    ensurepipTargetName: options?.ensurepipTargetName ?? 'ensurepip',
    venvTargetName: options?.venvTargetName ?? 'venv',
    pipInstallTargetName: options?.pipInstallTargetName ?? 'pip-install',
    publishTargetName: options?.publishTargetName ?? 'publish',
    verifyTargetName: options?.verifyTargetName ?? 'verify',
    rollbackTargetName: options?.rollbackTargetName ?? 'rollback',
    lockTargetName: options?.lockTargetName ?? 'lock',
  };
}

/** A pure function of the spec's location and the options: no file reads, no processes. */
function createEnvironmentProject(specFile: string, options: Normalized, context: CreateNodesContextV2) {
  const projectRoot = path.posix.dirname(specFile);
  const name = path.posix.basename(projectRoot);
  const inputs = pluginInputs(context.workspaceRoot);
  const interpreter = { runtime: `node ${identityScript(context.workspaceRoot)} ${specFile}` };
  const pythonInputs = [...inputs, interpreter];
  const stage = (target: StageTarget) => stagePath(name, target, options.buildDir);
  const common = { environment: specFile, buildDir: options.buildDir };

  const targets: Record<string, TargetConfiguration> = {
    [options.unpackTargetName]: {
      executor: `${EXECUTORS}:unpack`,
      options: { ...common, outputPath: stage('unpack') },
      cache: true,
      inputs: pythonInputs,
      outputs: ['{options.outputPath}'],
      metadata: { description: 'Unpack the Python distribution into a relocatable prefix', technologies: ['python'] },
    },
    [options.ensurepipTargetName]: {
      executor: `${EXECUTORS}:ensurepip`,
      options: { ...common, inputPath: stage('unpack'), outputPath: stage('ensurepip') },
      dependsOn: [options.unpackTargetName],
      cache: true,
      inputs: pythonInputs,
      outputs: ['{options.outputPath}'],
      metadata: { description: 'Install the bundled pip with ensurepip', technologies: ['python'] },
    },
    [options.venvTargetName]: {
      executor: `${EXECUTORS}:venv`,
      options: { ...common, inputPath: stage('ensurepip'), outputPath: stage('venv') },
      dependsOn: [options.ensurepipTargetName],
      cache: true,
      inputs: pythonInputs,
      outputs: ['{options.outputPath}'],
      metadata: { description: 'Create the self-contained environment for this tool', technologies: ['python'] },
    },
    [options.pipInstallTargetName]: {
      executor: `${EXECUTORS}:pip-install`,
      options: { ...common, inputPath: stage('venv'), outputPath: stage('pip-install') },
      dependsOn: [options.venvTargetName],
      cache: true,
      // The spec, its requirements files and any local wheels: everything in the folder.
      inputs: [...pythonInputs, '{projectRoot}/**/*'],
      outputs: ['{options.outputPath}'],
      metadata: { description: "Install the environment's packages by name from its own index", technologies: ['python'] },
    },
    [options.publishTargetName]: {
      executor: `${EXECUTORS}:publish`,
      options: { ...common, inputPath: stage('pip-install'), depot: options.depot },
      dependsOn: [options.pipInstallTargetName],
      // A side effect on the depot: never replayed from a cache.
      cache: false,
      metadata: { description: 'Publish to the depot as a new version and move current', technologies: ['python'] },
    },
    [options.verifyTargetName]: {
      executor: `${EXECUTORS}:verify`,
      options: { ...common, inputPath: stage('pip-install'), depot: options.depot },
      dependsOn: [options.publishTargetName],
      cache: false,
      metadata: { description: 'Smoke-check and audit the published copy', technologies: ['python'] },
    },
    [options.rollbackTargetName]: {
      executor: `${EXECUTORS}:rollback`,
      options: { environment: specFile, depot: options.depot },
      // Acts on the depot only: nothing to build first, nothing to cache.
      cache: false,
      metadata: { description: 'Point current back at an earlier version (--to=<version>; default: the previous one)', technologies: ['python'] },
    },
    [options.lockTargetName]: {
      executor: `${EXECUTORS}:lock`,
      options: { ...common, inputPath: stage('unpack') },
      dependsOn: [options.unpackTargetName],
      // Writes requirements.lock into the source tree, for review: never cached.
      cache: false,
      metadata: { description: 'Resolve the packages into a hashed requirements.lock (commit it)', technologies: ['python'] },
    },
  };

  return {
    projects: {
      [projectRoot]: {
        name,
        root: projectRoot,
        projectType: 'application' as const,
        tags: ['type:python-environment'],
        targets,
        metadata: { description: `Python environment ${name}`, technologies: ['python'] },
      },
    },
  };
}

/**
 * The plugin's own code is an input of every build target, so changing the
 * plugin invalidates old builds. Inside this workspace that is its source
 * files; installed from a registry it would be the package's version.
 */
export function pluginInputs(workspaceRoot: string): Array<string | { externalDependencies: string[] }> {
  const libs = path.relative(workspaceRoot, path.resolve(__dirname, '..', '..', '..'));
  if (libs.startsWith('..') || path.isAbsolute(libs)) return [{ externalDependencies: [EXECUTORS] }];
  const at = (p: string) => `{workspaceRoot}/${path.posix.join(libs.split(path.sep).join('/'), p)}`;
  return [at('core/src/**/*'), at('core/python/**/*'), at('nx-plugin/src/**/*'), at('nx-plugin/bin/**/*'), `!${at('**/*.spec.ts')}`];
}

function identityScript(workspaceRoot: string): string {
  const script = path.resolve(__dirname, '..', '..', 'bin', 'python-identity.js');
  const rel = path.relative(workspaceRoot, script);
  return rel.startsWith('..') || path.isAbsolute(rel) ? script : rel.split(path.sep).join('/');
}
