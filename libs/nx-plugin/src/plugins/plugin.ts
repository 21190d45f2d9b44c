import type { CreateDependencies, CreateNodesContextV2, RawProjectGraphDependency, CreateNodesV2, PreTasksExecution, TargetConfiguration } from '@nx/devkit';
// The two values the plugin uses, from the modules of Nx that define them (and @nx/devkit re-exports): the
// plugin loads in every Nx command, and @nx/devkit's index costs ~45 ms more there (its generator helpers).
import { DependencyType } from 'nx/src/config/project-graph';
import { createNodesFromFiles } from 'nx/src/project-graph/plugins/utils';
import * as path from 'node:path';
// A narrow import (not @pydepot/core's index): the plugin loads on every Nx command.
import { declaredBase, declaredRequirementNames, normalizeName, readPyproject, requirementName } from '../../../core/src/library/pyproject';
import { declaredEnvironment, DeclaredRuntime, PythonSources, runtimeForPlatform } from '../../../core/src/model/declared';
import { hostTargetPlatform, isForeign, platformFolder, TargetPlatform } from '../../../core/src/model/platform';
import { MANIFEST_FILE } from '../../../core/src/environment/manifest';
import { DEFAULT_BUILD_DIR, DEFAULT_DEPOT, DEFAULT_WHEEL_DIR, DEFAULT_WHEELHOUSE_DIR, runtimeManifestPath, stagePath, StageTarget } from '../utils/paths';
import { EXECUTORS, STAGE_EXECUTOR } from './executor-names';
import { probeRemoteCache } from './remote-cache';
import { publishedStates, publishedStateVariable } from './published-state';
import { environmentSpecs, runtimeIdentities, runtimeIdentityVariable } from './runtime-identities';

/** Options of the plugin entry in nx.json. Target names are options too. */
export interface PydepotPluginOptions {
  /** Default depot folder (workspace-relative or absolute). */
  depot?: string;
  /** Folder of the stage outputs. */
  buildDir?: string;
  venvTargetName?: string;
  installTargetName?: string;
  /** The former name of installTargetName. */
  pipInstallTargetName?: string;
  publishTargetName?: string;
  verifyTargetName?: string;
  rollbackTargetName?: string;
  lockTargetName?: string;
  wheelhouseTargetName?: string;
  buildWheelTargetName?: string;
  runtimeTargetName?: string;
  /** Folder of in-repo packages' wheels (build-wheel outputs). */
  wheelDir?: string;
  /**
   * Where each platform's Python comes from, per version: `{"windows":
   * {"3.11": {"nuget": "3.11.9", "sha256": "…"}}}`. An environment that
   * says `"python": "3.11"` and lists "windows" in "platforms" runs on that
   * (docs/WINDOWS.md).
   */
  pythons?: PythonSources;
}

export const ENVIRONMENT_GLOB = 'environments/**/environment.json';
/** In-repo Python packages: each becomes a project with a build-wheel target. */
export const PYTHON_PACKAGE_GLOB = 'libs/python/*/pyproject.toml';
const PROJECT_GLOB = `{${ENVIRONMENT_GLOB},${PYTHON_PACKAGE_GLOB}}`;
/** Files of a project that its dependents' builds read (`^pydepot-source` in their inputs). */
const SOURCE_INPUT = 'pydepot-source';
/**
 * What Nx caches of a stage after unpack: its delta over the previous stage
 * (fs/delta.ts), not the full ~100 MB tree, which executors rebuild on demand.
 */
const DELTA_OUTPUT = '{options.outputPath}.delta';
export const ENVIRONMENT_TAG = 'type:python-environment';
export const RUNTIME_TAG = 'type:python-runtime';
/** Runtime projects have no files of their own: a virtual root beside the environments. */
const RUNTIME_ROOT = 'environments/.runtimes';
export const PACKAGE_TAG = 'type:python-package';

type Normalized = Required<PydepotPluginOptions>;

export const createNodesV2: CreateNodesV2<PydepotPluginOptions> = [
  PROJECT_GLOB,
  async (files, options, context) =>
    createNodesFromFiles(
      (file, opts, ctx) => (file.endsWith('pyproject.toml') ? createPackageProject(file, normalizeOptions(opts), ctx) : createEnvironmentProject(file, normalizeOptions(opts), ctx)),
      files,
      options,
      context,
    ),
];

/**
 * The edges inference cannot see from paths alone: an environment depends on
 * its base environment and on the in-repo packages it names (in "packages" or
 * a requirements file); an in-repo package depends on the in-repo packages in
 * its [project] dependencies. `nx affected` and `nx graph` follow them.
 */
export const createDependencies: CreateDependencies<PydepotPluginOptions> = (_options, context) => {
  const deps: RawProjectGraphDependency[] = [];
  const packages = new Map<string, string>(); // normalised distribution name → project
  const environments = new Map<string, string>(); // folder name → project
  for (const [name, project] of Object.entries(context.projects)) {
    if (project.tags?.includes(PACKAGE_TAG)) {
      const dist = readPyproject(path.join(context.workspaceRoot, project.root, 'pyproject.toml')).name;
      if (dist) packages.set(normalizeName(dist), name);
    } else if (project.tags?.includes(ENVIRONMENT_TAG)) environments.set(path.posix.basename(project.root), name);
  }
  const add = (source: string, target: string | undefined, sourceFile: string) => {
    if (target && target !== source) deps.push({ source, target, sourceFile, type: DependencyType.static });
  };
  const bases = new Map<string, { base: string; file: string }>(); // environment folder → its base
  for (const [name, project] of Object.entries(context.projects)) {
    if (project.tags?.includes(ENVIRONMENT_TAG)) {
      const specFile = path.posix.join(project.root, 'environment.json');
      const abs = path.join(context.workspaceRoot, specFile);
      for (const required of declaredRequirementNames(abs)) add(name, packages.get(required), specFile);
      const base = declaredBase(abs);
      if (base) bases.set(path.posix.basename(project.root), { base, file: specFile });
    } else if (project.tags?.includes(PACKAGE_TAG)) {
      const file = path.posix.join(project.root, 'pyproject.toml');
      for (const dep of readPyproject(path.join(context.workspaceRoot, file)).dependencies) add(name, packages.get(requirementName(dep) ?? ''), file);
    }
  }
  // Environment → base edges, except those of a "base" cycle: those environments' targets report the cycle
  // with their spec named (loading it), and every other project still loads.
  const cyclic = baseCycles(bases);
  for (const [env, { base, file }] of bases) if (!cyclic.has(env)) add(environments.get(env) ?? env, environments.get(base), file);
  return deps;
};

/** The environments on a "base" cycle (a self-base included): no edges are drawn for them. */
export function baseCycles(bases: Map<string, { base: string; file: string }>): Set<string> {
  const cyclic = new Set<string>();
  for (const start of bases.keys()) {
    const seen = [start];
    for (let at = bases.get(start)?.base; at !== undefined; at = bases.get(at)?.base) {
      if (at === start) {
        seen.forEach((e) => cyclic.add(e));
        break;
      }
      if (seen.includes(at)) break; // a cycle further along the chain: found from its own members
      seen.push(at);
    }
  }
  return cyclic;
}

/**
 * Before tasks run (and before Nx hashes them): each runtime's interpreter
 * identity, computed once in this process (runtime-identities.ts), the
 * state of each environment's depot (published-state.ts), and a
 * fallback to the local cache when the remote cache server is down
 * (remote-cache.ts). Nx carries changes to process.env made here into the
 * run, from the daemon and plugin workers too.
 */
export const preTasksExecution: PreTasksExecution<PydepotPluginOptions> = async (options, context) => {
  const normalized = normalizeOptions(options);
  const specs = environmentSpecs(context.workspaceRoot);
  const published = await publishedStates(specs, { workspaceRoot: context.workspaceRoot, depot: normalized.depot, publishTargetName: normalized.publishTargetName, nxJson: context.nxJsonConfiguration, argv: context.argv });
  for (const [key, value] of Object.entries({ ...runtimeIdentities(context.workspaceRoot, options?.pythons, specs), ...published, ...(await probeRemoteCache()) })) process.env[key] = value;
};

export function normalizeOptions(options: PydepotPluginOptions | undefined): Normalized {
  return {
    depot: options?.depot ?? DEFAULT_DEPOT,
    buildDir: options?.buildDir ?? DEFAULT_BUILD_DIR,
    venvTargetName: options?.venvTargetName ?? 'venv',
    installTargetName: options?.installTargetName ?? options?.pipInstallTargetName ?? 'install',
    pipInstallTargetName: options?.installTargetName ?? options?.pipInstallTargetName ?? 'install',
    publishTargetName: options?.publishTargetName ?? 'publish',
    verifyTargetName: options?.verifyTargetName ?? 'verify',
    rollbackTargetName: options?.rollbackTargetName ?? 'rollback',
    lockTargetName: options?.lockTargetName ?? 'lock',
    wheelhouseTargetName: options?.wheelhouseTargetName ?? 'wheelhouse',
    buildWheelTargetName: options?.buildWheelTargetName ?? 'build-wheel',
    runtimeTargetName: options?.runtimeTargetName ?? 'runtime',
    wheelDir: options?.wheelDir ?? DEFAULT_WHEEL_DIR,
    pythons: options?.pythons ?? {},
  };
}

/**
 * A function of the spec's location, the options and the spec's "base" (read
 * from the file; no processes). An environment built on a base has no
 * unpack/ensurepip targets: its venv starts from the base's finished build.
 */
function createEnvironmentProject(specFile: string, options: Normalized, context: CreateNodesContextV2) {
  const projectRoot = path.posix.dirname(specFile);
  const name = path.posix.basename(projectRoot);
  const inputs = pluginInputs(context.workspaceRoot);
  // Its base, and the runtime it runs on (its own, or its base chain's), each spec read once.
  const declared = declaredEnvironment(path.join(context.workspaceRoot, specFile), context.workspaceRoot);
  const base = declared.base;
  const runtime = declared.runtime;
  const runtimeManifest = runtime && runtimeManifestPath(runtime.project, options.buildDir);
  const interpreter = runtime ? runtimeIdentityInput(runtime) : { runtime: `node ${identityScript(context.workspaceRoot)} ${specFile}` };
  const pythonInputs = [...inputs, interpreter];
  // The files of the projects this one depends on: its base environment's spec and lock, in-repo packages' sources.
  const dependencySources = `^${SOURCE_INPUT}`;
  const stage = (target: StageTarget) => stagePath(name, target, options.buildDir);
  const common = { environment: specFile, buildDir: options.buildDir, ...(runtimeManifest ? { runtime: runtimeManifest } : {}) };
  const wheels = { dependencies: true, target: options.buildWheelTargetName };
  // The venv stage's output is a delta whatever the layout (shared: a few files over nothing; self-contained: a copy of
  // the runtime, recorded over it), so a runtime that turns out unshareable changes what is built, not what Nx caches.
  const shared = declared.layout === 'shared';
  // A "base" cycle: no edge to follow; the environment's own targets report it (loading its spec), the rest of the graph loads.
  const buildBase = base && !declared.cycle ? base : undefined;

  const build: Record<string, TargetConfiguration> = buildBase
    ? {
        [options.venvTargetName]: {
          executor: STAGE_EXECUTOR,
          options: { stage: 'venv', ...common, inputPath: stagePath(buildBase, 'install', options.buildDir), outputPath: stage('venv'), delta: true },
          dependsOn: [{ projects: [buildBase], target: options.installTargetName }],
          cache: true,
          inputs: [...pythonInputs, dependencySources],
          outputs: [DELTA_OUTPUT],
          metadata: { description: `Start this environment from a copy of its base environment ${buildBase}`, technologies: ['python'] },
        },
      }
    : {
        [options.venvTargetName]: runtimeVenvTarget(
          common,
          stage('venv'),
          runtime,
          options,
          pythonInputs,
          declared.cycle
            ? `(cannot build: field "base" makes a cycle: ${declared.cycle.join(' → ')})`
            : shared
              ? `Create this tool's environment on runtime ${runtime?.project ?? '(unknown)'}: a venv whose home is a relative path to the shared runtime (a private copy if the runtime turns out unshareable)`
              : `Create this tool's self-contained environment: a private copy of runtime ${runtime?.project ?? '(unknown)'}`,
        ),
      };

  const targets: Record<string, TargetConfiguration> = {
    ...build,
    [options.installTargetName]: installTarget(common, stage('venv'), stage('install'), options.venvTargetName, options, pythonInputs, "Install the environment's packages (from its lock, if it has one) and in-repo packages it names"),
    [options.publishTargetName]: publishTarget(name, undefined, { ...common, inputPath: stage('install'), depot: options.depot }, options.installTargetName, inputs, 'Publish to the depot as a new version and move current'),
    [options.verifyTargetName]: {
      executor: `${EXECUTORS}:verify`,
      options: { ...common, depot: options.depot },
      // Checks what is current, as it is: building or publishing first could undo a rollback.
      cache: false,
      metadata: { description: 'Smoke-check and audit the current published version (never publishes)', technologies: ['python'] },
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
      // The interpreter (and a base environment's packages) the lock is resolved for.
      options: { ...common, inputPath: stage('venv') },
      dependsOn: [options.venvTargetName, wheels],
      // Writes requirements.lock into the source tree, for review: never cached.
      cache: false,
      metadata: { description: 'Resolve the packages into a hashed requirements.lock (commit it)', technologies: ['python'] },
    },
    [options.wheelhouseTargetName]: {
      executor: `${EXECUTORS}:wheelhouse`,
      options: { ...common, inputPath: stage('venv'), outputPath: path.posix.join(DEFAULT_WHEELHOUSE_DIR, name) },
      dependsOn: [options.venvTargetName],
      cache: true,
      inputs: [...pythonInputs, '{projectRoot}/**/*', dependencySources],
      outputs: ['{options.outputPath}'],
      metadata: { description: 'Download every artifact the environment installs, for an air-gapped build (PYDEPOT_WHEELHOUSE)', technologies: ['python'] },
    },
  };

  // Other platforms (the spec's "platforms"): their own stages, runtime and depot folder, suffixed targets
  // (venv-windows, …); `publish` and `verify` run every platform's, so `nx run-many -t publish` builds them all.
  const foreign = declared.platforms.filter((p) => isForeign(p));
  const foreignRuntimes = runtime && !base ? foreign.map((p) => runtimeForPlatform(runtime, p, options.pythons, context.workspaceRoot)) : [];
  const hostListed = declared.platforms.includes(hostTargetPlatform());
  const all: Record<string, TargetConfiguration> = hostListed ? targets : {};
  for (const [i, platform] of foreign.entries()) {
    Object.assign(all, platformTargets(name, specFile, platform, foreignRuntimes[i], options, pythonInputs.filter((input) => input !== interpreter)));
  }
  if (foreign.length) {
    for (const target of [options.publishTargetName, options.verifyTargetName]) {
      const each = foreign.map((p) => `${target}-${p}`);
      all[target] = hostListed
        ? { ...all[target], dependsOn: [...(all[target].dependsOn ?? []), ...each] }
        : { executor: 'nx:noop', dependsOn: each, cache: false, metadata: { description: `${target} for ${foreign.join(', ')} (the spec's "platforms")`, technologies: ['python'] } };
    }
  }

  return {
    projects: {
      ...(runtime && !base && hostListed ? runtimeProject(runtime, options, context) : {}),
      ...Object.assign({}, ...foreignRuntimes.map((r) => runtimeProject(r, options, context))),
      [projectRoot]: {
        name,
        root: projectRoot,
        projectType: 'application' as const,
        tags: [ENVIRONMENT_TAG],
        namedInputs: { [SOURCE_INPUT]: ['{projectRoot}/**/*'] },
        targets: all,
        metadata: { description: `Python environment ${name}${base ? ` (built on ${base})` : ''}`, technologies: ['python'] },
      },
    },
  };
}

/** The venv target on a runtime (every platform's: the host's and `venv-<platform>`). */
function runtimeVenvTarget(common: Record<string, unknown>, outputPath: string, runtime: DeclaredRuntime | undefined, options: Normalized, inputs: unknown[], description: string): TargetConfiguration {
  return {
    executor: STAGE_EXECUTOR,
    options: { stage: 'venv', ...common, outputPath, delta: true },
    dependsOn: runtime ? [{ projects: [runtime.project], target: options.runtimeTargetName }] : [],
    cache: true,
    // The spec's layout, name and description shape this stage.
    inputs: [...inputs, '{projectRoot}/environment.json'] as TargetConfiguration['inputs'],
    outputs: [DELTA_OUTPUT],
    metadata: { description, technologies: ['python'] },
  };
}

/** The install target (every platform's): after its venv and the in-repo packages' wheels. */
function installTarget(common: Record<string, unknown>, inputPath: string, outputPath: string, venvTarget: string, options: Normalized, inputs: unknown[], description: string): TargetConfiguration {
  return {
    executor: STAGE_EXECUTOR,
    options: { stage: 'install', ...common, inputPath, outputPath, delta: true },
    dependsOn: [venvTarget, { dependencies: true, target: options.buildWheelTargetName }],
    cache: true,
    // The spec, its requirements files, its locks and any local wheels: everything in the folder.
    inputs: [...inputs, '{projectRoot}/**/*', `^${SOURCE_INPUT}`] as TargetConfiguration['inputs'],
    outputs: [DELTA_OUTPUT],
    metadata: { description, technologies: ['python'] },
  };
}

/**
 * The targets of one more platform an environment is published for
 * (`venv-windows`, `install-windows`, `publish-windows`, `verify-windows`,
 * `rollback-windows`): the same executors with the platform in their
 * options, stages under `<buildDir>/windows`, the platform's runtime as
 * their interpreter input, the depot's `windows/` folder.
 */
function platformTargets(
  name: string,
  specFile: string,
  platform: TargetPlatform,
  runtime: DeclaredRuntime | undefined,
  options: Normalized,
  inputs: Array<string | { externalDependencies: string[] } | { runtime: string } | { env: string }>,
): Record<string, TargetConfiguration> {
  const buildDir = platformFolder(options.buildDir, platform, path.posix.join);
  const stage = (target: StageTarget) => stagePath(name, target, buildDir);
  const t = (target: string) => `${target}-${platform}`;
  const common = { environment: specFile, buildDir, platform, ...(runtime ? { runtime: runtimeManifestPath(runtime.project, buildDir) } : {}) };
  const pythonInputs = [...inputs, ...(runtime ? [runtimeIdentityInput(runtime)] : [])];
  const wheels = { dependencies: true, target: options.buildWheelTargetName };
  const label = platform === 'windows' ? 'Windows' : platform;
  return {
    [t(options.venvTargetName)]: runtimeVenvTarget(
      common,
      stage('venv'),
      runtime,
      options,
      pythonInputs,
      `Create this tool's ${label} environment on runtime ${runtime?.project ?? '(unknown)'}: a venv whose home is a relative path to the shared runtime`,
    ),
    [t(options.installTargetName)]: installTarget(common, stage('venv'), stage('install'), t(options.venvTargetName), options, pythonInputs, `Install the environment's packages for ${label} (binary wheels only)`),
    [t(options.publishTargetName)]: publishTarget(
      name,
      platform,
      { ...common, inputPath: stage('install'), depot: options.depot },
      t(options.installTargetName),
      inputs,
      `Publish the ${label} version to the depot's ${platform}/ folder and move its current`,
    ),
    [t(options.verifyTargetName)]: {
      executor: `${EXECUTORS}:verify`,
      options: { ...common, depot: options.depot },
      cache: false,
      metadata: { description: `Check the current ${label} version (smoke checks under Wine on a Linux agent, audit, file index)`, technologies: ['python'] },
    },
    [t(options.lockTargetName)]: {
      executor: `${EXECUTORS}:lock`,
      options: { ...common, inputPath: stage('venv') },
      dependsOn: [t(options.venvTargetName), wheels],
      cache: false,
      metadata: { description: `Resolve the packages for ${label} (binary wheels) into a hashed requirements.${platform}.lock (commit it)`, technologies: ['python'] },
    },
    [t(options.wheelhouseTargetName)]: {
      executor: `${EXECUTORS}:wheelhouse`,
      options: { ...common, inputPath: stage('venv'), outputPath: path.posix.join(platformFolder(DEFAULT_WHEELHOUSE_DIR, platform, path.posix.join), name) },
      dependsOn: [t(options.venvTargetName)],
      cache: true,
      inputs: [...pythonInputs, '{projectRoot}/**/*', `^${SOURCE_INPUT}`],
      outputs: ['{options.outputPath}'],
      metadata: { description: `Download every ${label} artifact the environment installs, for an air-gapped build (PYDEPOT_WHEELHOUSE)`, technologies: ['python'] },
    },
    [t(options.rollbackTargetName)]: {
      executor: `${EXECUTORS}:rollback`,
      options: { environment: specFile, depot: options.depot, platform },
      cache: false,
      metadata: { description: `Point the ${label} version's current back at an earlier one (the other platforms are untouched)`, technologies: ['python'] },
    },
  };
}

/**
 * Publish: a side effect on the depot, replayed from Nx's cache only when it
 * would change nothing (published-state.ts): its inputs are the spec's
 * folder, the plugin, the version the install stage built (its manifest)
 * and the depot's state as the run found it. Anything else runs it.
 */
function publishTarget(project: string, platform: TargetPlatform | undefined, targetOptions: Record<string, unknown>, installTarget: string, inputs: unknown[], description: string): TargetConfiguration {
  return {
    executor: STAGE_EXECUTOR,
    options: { stage: 'publish', ...targetOptions },
    dependsOn: [installTarget],
    cache: true,
    inputs: [...inputs, '{projectRoot}/**/*', { env: publishedStateVariable(project, platform) }, { dependentTasksOutputFiles: `**/${MANIFEST_FILE}` }] as TargetConfiguration['inputs'],
    outputs: [],
    metadata: { description, technologies: ['python'] },
  };
}

/**
 * One project per distinct Python the environments use (`python-3.12`): its
 * `runtime` target builds the interpreter once for all of them. Every spec
 * on that Python returns the same project (Nx merges them); its cache key is
 * the distribution's identity and the plugin, never which environment asked
 * or where the interpreter is installed.
 */
function runtimeProject(runtime: DeclaredRuntime, options: Normalized, context: CreateNodesContextV2) {
  const root = path.posix.join(RUNTIME_ROOT, runtime.project);
  const platform = runtime.request.platform;
  const buildDir = platform ? platformFolder(options.buildDir, platform, path.posix.join) : options.buildDir;
  const label = typeof runtime.request.python === 'string' ? `CPython ${runtime.request.python}` : `CPython from ${JSON.stringify(runtime.request.python)}`;
  return {
    [root]: {
      name: runtime.project,
      root,
      projectType: 'library' as const,
      tags: [RUNTIME_TAG],
      targets: {
        [options.runtimeTargetName]: {
          executor: `${EXECUTORS}:runtime`,
          options: {
            python: runtime.request.python,
            includeStdlibTests: runtime.request.includeStdlibTests,
            ...(platform ? { platform } : {}),
            outputPath: runtimeManifestPath(runtime.project, buildDir),
          },
          cache: true,
          inputs: [...pluginInputs(context.workspaceRoot), runtimeIdentityInput(runtime)],
          // The manifest only: the tree sits in the content-addressed store beside it (a cache hit writes a few hundred bytes).
          outputs: ['{options.outputPath}'],
          metadata: { description: `Build ${label} once for every environment on it: relocatable, launcher, pip, bytecode`, technologies: ['python'] },
        },
      },
      metadata: { description: `Python runtime ${runtime.project}, shared by the environments built on it`, technologies: ['python'] },
    },
  };
}

/**
 * The interpreter identity input, the same for a runtime and every
 * environment on it: an environment variable preTasksExecution sets
 * (runtime-identities.ts), so hashing spawns no process.
 */
function runtimeIdentityInput(runtime: DeclaredRuntime): { env: string } {
  return { env: runtimeIdentityVariable(runtime.project) };
}

/** An in-repo Python package (libs/python/<name>/pyproject.toml): its wheel, built by the pinned uv. */
function createPackageProject(pyprojectFile: string, options: Normalized, context: CreateNodesContextV2) {
  const projectRoot = path.posix.dirname(pyprojectFile);
  const name = path.posix.basename(projectRoot);
  return {
    projects: {
      [projectRoot]: {
        name,
        root: projectRoot,
        projectType: 'library' as const,
        tags: [PACKAGE_TAG],
        namedInputs: { [SOURCE_INPUT]: ['{projectRoot}/**/*', '!{projectRoot}/**/__pycache__/**', '!{projectRoot}/**/*.egg-info/**'] },
        targets: {
          [options.buildWheelTargetName]: {
            executor: `${EXECUTORS}:build-wheel`,
            options: { outputPath: path.posix.join(options.wheelDir, name) },
            // In-repo packages it depends on are built first: an environment installs them all.
            dependsOn: [{ dependencies: true, target: options.buildWheelTargetName }],
            cache: true,
            inputs: [...pluginInputs(context.workspaceRoot), SOURCE_INPUT],
            outputs: ['{options.outputPath}'],
            metadata: { description: `Build the wheel of the in-repo package ${name} (reproducible)`, technologies: ['python'] },
          },
        },
        metadata: { description: `In-repo Python package ${name}`, technologies: ['python'] },
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
  return [at('core/src/**/*'), at('core/python/**/*'), at('core/native/**/*'), at('nx-plugin/src/**/*'), at('nx-plugin/bin/**/*'), at('nx-plugin/*.{js,json}'), `!${at('**/*.spec.ts')}`];
}

function identityScript(workspaceRoot: string): string {
  const script = path.resolve(__dirname, '..', '..', 'bin', 'python-identity.js');
  const rel = path.relative(workspaceRoot, script);
  return rel.startsWith('..') || path.isAbsolute(rel) ? script : rel.split(path.sep).join('/');
}
