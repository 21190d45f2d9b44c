import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { AsyncLocalStorage } from 'node:async_hooks';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import { readFileSync } from 'node:fs';
import { cacheDir, ensureRuntime, EnvironmentSpec, fetchRuntime, formatError, loadEnvironmentSpec, maskCredentials, materializeStage, readRuntimeManifest, resolveDistribution, RuntimeManifest } from '@pydepot/core';
import { PREVIOUS, stagePath, StageTarget } from './paths';

/** Options every pydepot executor understands (see each schema.json). */
export interface CommonOptions {
  environment?: string;
  buildDir?: string;
  /** Stages: the Nx output is `<outputPath>.delta` (set by the inference plugin). */
  delta?: boolean;
  /** The runtime manifest the environment runs on (set by the inference plugin). */
  runtime?: string;
}

export interface ExecutorEnv {
  workspaceRoot: string;
  project: string;
  projectRoot: string;
  spec(): EnvironmentSpec;
  /** Absolute path from a workspace-relative (or absolute) one. */
  abs(p: string): string;
  stage(target: StageTarget, explicit?: string): string;
  previousStage(target: Exclude<StageTarget, 'unpack'>, explicit?: string): string;
  cacheDir: string;
  log(message: string): void;
  /** The Nx hash of the running task, recorded in manifests. */
  taskHash?: string;
  /** Wheel folders of the in-repo packages this project depends on, directly or through other packages. */
  localWheelDirs(): string[];
  /**
   * A stage's full tree, ready to read and (`run`, the default) to run: its
   * runtime first (fetched or rebuilt in the store when a cache hit restored
   * only its manifest), then the stage (rebuilt from its delta when a cache
   * hit restored only that). With `run: false` the runtime is ensured only if
   * the stage is built on it (self-contained).
   */
  input(stagePath: string, options?: { run?: boolean }): Promise<string>;
  /** Nx's self-hosted remote cache, when the run uses one: runtime trees travel through it beside the task outputs. */
  share?: { url: string; token?: string };
  /** The environment's runtime (manifest and tree), ensured; undefined when the target names none. */
  runtime(): Promise<{ manifest: RuntimeManifest; root: string } | undefined>;
  /** The environment's runtime tree from the remote cache into `dir`, checked (a publish writing it straight into the depot); false without one. */
  fetchRuntimeTo(dir: string): Promise<boolean>;
  /**
   * What no file of the environment may name (the relocation audit): the
   * workspace, the build folder and where the interpreter came from, as its
   * runtime manifest recorded it. Reads no interpreter: verify on a machine
   * without the build's CPython gets the same answer.
   */
  forbiddenPaths(): string[];
}

/**
 * The whole of an executor's Nx-facing work: resolve options against the
 * project, call one core function, and turn a thrown error into a readable
 * message and `{ success: false }`. No build logic lives here.
 */
export async function runExecutor(
  name: string,
  options: CommonOptions,
  context: ExecutorContext,
  body: (env: ExecutorEnv) => Promise<void>,
): Promise<{ success: boolean }> {
  const project = context.projectName!;
  const projectRoot = context.projectsConfigurations?.projects[project]?.root ?? '.';
  const abs = (p: string) => path.resolve(context.root, p);
  let spec: EnvironmentSpec | undefined;
  let runtime: ReturnType<ExecutorEnv['runtime']> | undefined;
  const taskId = `${project}:${context.targetName}${context.configurationName ? `:${context.configurationName}` : ''}`;
  const env: ExecutorEnv = {
    workspaceRoot: context.root,
    project,
    projectRoot,
    spec: () => (spec ??= loadEnvironmentSpec(abs(options.environment ?? path.join(projectRoot, 'environment.json')), project)),
    abs,
    stage: (target, explicit) => abs(explicit ?? stagePath(project, target, options.buildDir)),
    previousStage: (target, explicit) => abs(explicit ?? stagePath(project, PREVIOUS[target], options.buildDir)),
    cacheDir: cacheDir(),
    log: (message) => print('out', maskCredentials(`pydepot ${name} ${project}: ${message}`)),
    taskHash: context.taskGraph?.tasks[taskId]?.hash,
    localWheelDirs: () => localWheelDirs(context, project).map(abs),
    input: async (stage, { run = true } = {}) => {
      // To run the environment, its runtime must be there; to read it, only a self-contained chain needs it.
      if (run) await env.runtime();
      return materializeStage(stage, [], () => env.runtime());
    },
    runtime: () => (runtime ??= options.runtime ? ensureRuntime(abs(options.runtime), { workspaceRoot: context.root, cacheDir: env.cacheDir, log: env.log, share: env.share }) : Promise.resolve(undefined)),
    fetchRuntimeTo: async (dir) => {
      if (!options.runtime || !env.share) return false;
      const manifest = await readRuntimeManifest(abs(options.runtime));
      return fetchRuntime(dir, manifest.id, manifest.contentHash, env.share, env.log);
    },
    share: remoteCache(),
    forbiddenPaths: () => [context.root, abs(options.buildDir ?? 'dist/pydepot'), ...originPaths(options.runtime && abs(options.runtime), env.spec)],
  };
  try {
    await body(env);
    return { success: true };
  } catch (error) {
    print('err', `\npydepot ${name} failed for ${project}:\n${formatError(error)}\n`);
    return { success: false };
  }
}

/** In a batch (several tasks in one process), each task's output goes to its own buffer. */
const taskOutput = new AsyncLocalStorage<string[]>();

function print(stream: 'out' | 'err', line: string): void {
  const buffer = taskOutput.getStore();
  if (buffer) buffer.push(line);
  else if (stream === 'out') console.log(line);
  else console.error(line);
}

/**
 * Tasks of a batch run at once: NX_PARALLEL when set (Nx reads it too; its
 * `--parallel` flag does not reach a batch process), else Nx's own default
 * of 3, or the number of cores when fewer: the stages' own work (hashing,
 * packing) shares the process's one thread.
 */
export function batchConcurrency(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): number {
  const set = Number(env.NX_PARALLEL);
  return Number.isInteger(set) && set > 0 ? set : Math.max(1, Math.min(3, cores));
}

/** What a batch reports of each task: a skipped one (a dependency in the batch failed) never ran. */
export interface BatchResult {
  success: boolean;
  status?: 'skipped';
  terminalOutput: string;
  /** When the task ran (ms since the epoch): Nx's run summary and task timings read them. */
  startTime?: number;
  endTime?: number;
}

/**
 * Nx's batch protocol for an executor (`batchImplementation` with
 * `preferBatch` in executors.json): the tasks of one run that use it execute
 * in one process instead of one forked Node process each, each after the
 * tasks of the batch it depends on (an environment's venv → install →
 * publish); a task whose dependency failed is reported skipped, as Nx
 * reports it outside a batch. Each task's output is reported as its own
 * terminal output. How many run at once: `batchConcurrency()`.
 */
export function batchOf<O>(executor: (options: O, context: ExecutorContext) => Promise<{ success: boolean }>, concurrency = batchConcurrency()) {
  return async (taskGraph: TaskGraph, inputs: Record<string, O>, _overrides: unknown, context: ExecutorContext): Promise<Record<string, BatchResult>> => {
    const ids = Object.keys(taskGraph.tasks);
    // Each task's dependencies in the batch, read once (edges to tasks outside it are complete before Nx starts it).
    const within = new Map(ids.map((id) => [id, (taskGraph.dependencies[id] ?? []).map((edge) => (typeof edge === 'string' ? edge : edge.id)).filter((dep) => dep in taskGraph.tasks)]));
    const results: Record<string, BatchResult> = {};
    const started = new Set<string>();
    const runOne = async (id: string) => {
      const task = taskGraph.tasks[id];
      const lines: string[] = [];
      const startTime = Date.now();
      const success = await taskOutput
        .run(lines, () => executor(inputs[id], { ...context, projectName: task.target.project, targetName: task.target.target, configurationName: task.target.configuration }))
        .then(
          (result) => result.success,
          (error: unknown) => (lines.push(`pydepot: ${id} failed: ${formatError(error)}`), false),
        );
      const terminalOutput = lines.length ? `${lines.join('\n')}\n` : '';
      // Nx heads a batch of one task itself; a bigger batch is reported as a whole, so each task's
      // output is printed in one piece under its own heading.
      process.stdout.write(ids.length > 1 ? `\n> nx run ${id}\n\n${terminalOutput}` : terminalOutput);
      results[id] = { success, terminalOutput, startTime, endTime: Date.now() };
    };
    await new Promise<void>((resolve) => {
      let running = 0;
      const pump = () => {
        for (let changed = true; changed; ) {
          changed = false;
          for (const id of ids) {
            if (started.has(id)) continue;
            const deps = within.get(id)!;
            if (deps.some((dep) => results[dep] && !results[dep].success)) {
              started.add(id);
              results[id] = { success: false, status: 'skipped', terminalOutput: '' };
              changed = true;
            } else if (running < concurrency && deps.every((dep) => results[dep]?.success)) {
              started.add(id);
              running++;
              void runOne(id).finally(() => {
                running--;
                pump();
              });
            }
          }
        }
        if (running === 0) resolve();
      };
      pump();
    });
    // Nothing is left unreported (Nx would run a task the batch did not report in another wave).
    for (const id of ids) results[id] ??= { success: false, status: 'skipped', terminalOutput: '' };
    return results;
  };
}

const BUILD_WHEEL = '@pydepot/nx-plugin:build-wheel';

/**
 * Where the environment's interpreter came from, as recorded when its runtime
 * was built (a runtime not built here yet: nothing to add). Only projects
 * configured by hand, which have no runtime, ask the distribution.
 */
function originPaths(runtimeManifest: string | undefined, spec: () => EnvironmentSpec): string[] {
  if (runtimeManifest) {
    try {
      return (JSON.parse(readFileSync(runtimeManifest, 'utf8')) as RuntimeManifest).originPaths ?? [];
    } catch {
      return [];
    }
  }
  try {
    return resolveDistribution(spec().python).originPaths();
  } catch {
    return [];
  }
}

/** The run's remote cache (the plugin's preTasksExecution blanks the variable when the server is down). */
function remoteCache(env: NodeJS.ProcessEnv = process.env): ExecutorEnv['share'] {
  const url = env.NX_SELF_HOSTED_REMOTE_CACHE_SERVER;
  if (!url || /^(1|true)$/i.test(env.NX_SKIP_REMOTE_CACHE ?? '')) return undefined;
  return { url, token: env.NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN };
}

/**
 * The output folders of the build-wheel targets of the in-repo packages
 * `project` depends on in the project graph, following package → package
 * edges (not a base environment: its packages are already in its build).
 */
export function localWheelDirs(context: ExecutorContext, project: string): string[] {
  const graph = context.projectGraph;
  if (!graph) return [];
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (name: string) => {
    for (const dep of graph.dependencies[name] ?? []) {
      if (seen.has(dep.target)) continue;
      seen.add(dep.target);
      const target = Object.values(graph.nodes[dep.target]?.data.targets ?? {}).find((t) => t.executor === BUILD_WHEEL);
      if (!target) continue;
      out.push(String(target.options?.outputPath));
      visit(dep.target);
    }
  };
  visit(project);
  return out.sort();
}
