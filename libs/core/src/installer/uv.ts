import * as path from 'node:path';
import { pythonPath } from '../environment/layout';
import { isolatedPythonEnv } from '../process/python-env';
import { run } from '../process/run';
import { ensureWheelTool, UV } from '../tools/tool-cache';
import { installFailure, InstallRequest, Installer } from './installer';
import { sourceArgs } from './pip';

/** Bump when uv's cache under our cache dir must not be shared with older builds. */
const UV_CACHE = 'uv-v1';

/**
 * uv (a pinned release fetched from PyPI into the tool cache, never the one on
 * PATH), installing into the environment's own interpreter. Same isolation as
 * pip: no uv.toml or UV_* settings, only the spec's index settings; files are
 * copied out of uv's cache (`--link-mode copy`), never hard-linked, so a
 * published environment shares no inode with the build machine's cache.
 */
export class UvInstaller implements Installer {
  readonly name = 'uv';

  async install(root: string, request: InstallRequest): Promise<void> {
    if (request.packages.length === 0 && request.requirementFiles.length === 0) return;
    const uv = await ensureWheelTool(UV);
    try {
      await run(uv, uvInstallArgs(root, request), {
        env: { ...isolatedPythonEnv(), UV_PYTHON_DOWNLOADS: 'never', UV_NO_PROGRESS: '1' },
        failure: `uv could not install the packages of environment "${request.environment}"`,
        tailLines: 25,
      });
    } catch (error) {
      throw await installFailure(error, request);
    }
  }
}

export function uvInstallArgs(root: string, request: InstallRequest): string[] {
  const foreign = request.foreign;
  return [
    'pip',
    'install',
    '--python',
    foreign ? foreign.python : pythonPath(root),
    ...(foreign ? ['--target', foreign.sitePackages, '--python-platform', foreign.uvPlatform, '--python-version', foreign.version, '--only-binary', ':all:'] : []),
    '--no-config',
    '--link-mode',
    'copy',
    '--cache-dir',
    path.join(request.cacheDir, UV_CACHE),
    ...sourceArgs(request),
  ];
}
