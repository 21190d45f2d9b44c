import * as path from 'node:path';
import { RUNTIMES_DIR } from '../../../core/src/environment/layout';

/** Stage folder names under `<buildDir>/<project>/`; the last one is the finished environment. */
export const STAGES = { unpack: 'unpack', ensurepip: 'ensurepip', venv: 'venv', install: 'install' } as const;
export type StageTarget = keyof typeof STAGES;

export const DEFAULT_BUILD_DIR = 'dist/pydepot';
export const DEFAULT_DEPOT = 'dist/depot';
export const DEFAULT_WHEEL_DIR = 'dist/python';
export const DEFAULT_WHEELHOUSE_DIR = 'dist/wheelhouse';

/** Workspace-relative output folder of a stage, shared by inference and executor defaults. */
export function stagePath(project: string, stage: StageTarget, buildDir = DEFAULT_BUILD_DIR): string {
  return path.posix.join(buildDir.replace(/\\/g, '/'), project, STAGES[stage]);
}

/** Workspace-relative manifest of a runtime project's build (its tree sits beside it in the store), shared by inference and the executor default. */
export function runtimeManifestPath(runtimeProject: string, buildDir = DEFAULT_BUILD_DIR): string {
  return path.posix.join(buildDir.replace(/\\/g, '/'), RUNTIMES_DIR, `${runtimeProject}.json`);
}

/** The stage a stage reads from. */
export const PREVIOUS: Record<Exclude<StageTarget, 'unpack'>, StageTarget> = {
  ensurepip: 'unpack',
  venv: 'ensurepip',
  install: 'venv',
};
