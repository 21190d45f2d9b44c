import * as path from 'node:path';
import { PydepotError } from '../errors';
import { runPython } from '../environment/python';
import { isUrl } from '../model/environment';
import { expandIndexCredentials } from './credentials';
import { isolatedPythonEnv } from '../process/python-env';
import { run } from '../process/run';
import { ForeignTarget, installFailure, InstallRequest, Installer } from './installer';

/** Bump when pip's cache layout under our cache dir must not be shared with older builds. */
const PIP_CACHE = 'pip-v1';

export class PipInstaller implements Installer {
  readonly name = 'pip';

  async install(root: string, request: InstallRequest): Promise<void> {
    if (request.packages.length === 0 && request.requirementFiles.length === 0) return;
    const failure = { failure: `pip could not install the packages of environment "${request.environment}"`, tailLines: 25 };
    try {
      const foreign = request.foreign;
      if (foreign) await run(foreign.python, ['-I', '-m', 'pip', ...pipInstallArgs(request), ...foreignPipArgs(foreign)], { env: isolatedPythonEnv(), ...failure });
      else await runPython(root, ['-m', 'pip', ...pipInstallArgs(request)], failure);
    } catch (error) {
      throw await installFailure(error, request);
    }
  }
}

/** Binary wheels for another platform, unpacked into its site-packages. */
export function foreignPipArgs(foreign: ForeignTarget): string[] {
  return ['--target', foreign.sitePackages, '--upgrade', ...pipPlatformArgs(foreign.pipPlatform, foreign.version)];
}

/** pip's selection of CPython `version`'s binary wheels for another platform (install, download). */
export function pipPlatformArgs(platform: string, version: string): string[] {
  return ['--platform', platform, '--only-binary=:all:', '--python-version', version, '--implementation', 'cp'];
}

/** Every setting comes from the spec: pip's own config and PIP_* variables are ignored (see python-env.ts). */
export function pipInstallArgs(request: InstallRequest): string[] {
  return [
    'install',
    '--isolated',
    '--no-input',
    '--disable-pip-version-check',
    '--no-compile',
    '--no-warn-script-location',
    '--progress-bar',
    'off',
    '--cache-dir',
    path.join(request.cacheDir, PIP_CACHE),
    ...sourceArgs(request),
  ];
}

/**
 * Where packages come from and which: index, extra indexes, find-links,
 * requirements files and specifiers. pip and uv spell these the same way.
 */
export function sourceArgs(request: InstallRequest): string[] {
  const args: string[] = request.requireHashes ? ['--require-hashes', '--no-deps'] : request.noDeps ? ['--no-deps'] : [];
  // Credential placeholders are expanded here, at the last moment (credentials.ts).
  const index = expandIndexCredentials(request.index, request.specFile);
  if (index.noIndex) args.push('--no-index');
  else {
    args.push('--index-url', index.url);
    for (const url of index.extraUrls) args.push('--extra-index-url', url);
  }
  for (const link of index.findLinks) args.push('--find-links', link);
  for (const file of request.constraintFiles ?? []) args.push('-c', file);
  for (const file of request.requirementFiles) args.push('-r', file);
  for (const pkg of request.packages) {
    if (pkg.startsWith('-')) throw new PydepotError(`package "${pkg}" in ${request.specFile} looks like a pip option`, { hint: 'put options in the "index" field' });
    if (isUrl(pkg) || path.isAbsolute(pkg)) {
      // pip records a path or URL install in direct_url.json with an absolute location.
      throw new PydepotError(`package "${pkg}" in ${request.specFile} is a path or URL; packages are installed by name`, {
        hint: 'put the wheel in a folder listed in "index.findLinks" and name the package instead',
      });
    }
    args.push(pkg);
  }
  return args;
}
