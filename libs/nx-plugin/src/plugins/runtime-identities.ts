import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { DeclaredRuntime, ENVIRONMENT_FILE, PythonSources, readSpecLeniently, runtimeForPlatform, runtimeOf } from '../../../core/src/model/declared';
import { declaredPlatforms } from '../../../core/src/model/platform';

/*
 * The interpreter identity of every runtime, computed in Nx's own process
 * once per run (the plugin's preTasksExecution, before Nx hashes any task)
 * and handed to the hasher as an environment variable input, one per
 * runtime project: no Node process is spawned per input, and a runtime
 * shared by many environments is identified once. The identity never names
 * an install path (docs/ARCHITECTURE.md, "Cache inputs").
 */

/** The environment variable that carries a runtime project's identity: PYDEPOT_RUNTIME_PYTHON_3_12. */
export function runtimeIdentityVariable(project: string): string {
  return pydepotVariable('RUNTIME', project);
}

/** An environment variable the plugin's preTasksExecution sets for Nx to hash: PYDEPOT_<KIND>_<NAME>, the name upper-cased, other characters as `_`. */
export function pydepotVariable(kind: string, name: string): string {
  return `PYDEPOT_${kind}_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}`;
}

/** An environment spec under environments/, read leniently (as the plugin reads it): its file, its project name and its JSON. */
export interface FoundSpec {
  file: string;
  name: string;
  spec: Record<string, unknown>;
}

/** Every environment spec under environments/ (one walk a run, shared by everything preTasksExecution computes). */
export function environmentSpecs(workspaceRoot: string): FoundSpec[] {
  const found: FoundSpec[] = [];
  const visit = (dir: string, depth: number) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (e.isDirectory() && !e.name.startsWith('.') && e.name !== 'node_modules' && depth < 8) visit(path.join(dir, e.name), depth + 1);
      else if (e.isFile() && e.name === ENVIRONMENT_FILE) {
        const file = path.join(dir, e.name);
        const spec = readSpecLeniently(file);
        if (spec) found.push({ file, name: path.basename(dir), spec });
      }
    }
  };
  visit(path.join(workspaceRoot, 'environments'), 0);
  return found;
}

/** Every runtime the specs ask for, per platform they list, by project. */
export function declaredRuntimes(workspaceRoot: string, pythons?: PythonSources, specs: FoundSpec[] = environmentSpecs(workspaceRoot)): Map<string, DeclaredRuntime> {
  const found = new Map<string, DeclaredRuntime>();
  for (const { file, spec } of specs) {
    const runtime = runtimeOf(spec, file, workspaceRoot);
    if (!runtime) continue;
    for (const platform of declaredPlatforms(spec.platforms)) {
      const own = runtimeForPlatform(runtime, platform, pythons, workspaceRoot);
      found.set(own.project, own);
    }
  }
  return found;
}

/** The variables for every declared runtime, each identity computed once (the core is loaded only here, only when there are runtimes). */
export function runtimeIdentities(workspaceRoot: string, pythons?: PythonSources, specs?: FoundSpec[]): Record<string, string> {
  const runtimes = declaredRuntimes(workspaceRoot, pythons, specs);
  if (runtimes.size === 0) return {};
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { runtimeIdentity } = require('../../../core/src/pipeline/runtime-source') as typeof import('../../../core/src/pipeline/runtime-source');
  const out: Record<string, string> = {};
  for (const [project, runtime] of runtimes) out[runtimeIdentityVariable(project)] = runtimeIdentity(runtime.request, workspaceRoot);
  return out;
}
