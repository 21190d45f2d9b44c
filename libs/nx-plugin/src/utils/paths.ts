import * as path from 'node:path';

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

/** The stage a stage reads from. */
export const PREVIOUS: Record<Exclude<StageTarget, 'unpack'>, StageTarget> = {
  ensurepip: 'unpack',
  venv: 'ensurepip',
  install: 'venv',
};
