import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readManifest } from '../environment/manifest';
import { runPython, standInFor } from '../environment/python';
import { foreignPlatformOf, platformFolder, TargetPlatform, WHEEL_PLATFORMS } from '../model/platform';
import { isolatedPythonEnv } from '../process/python-env';
import { run } from '../process/run';
import { buildDirectoryAtomically } from '../fs/atomic';
import { listWheels } from '../library/wheel';
import { EnvironmentSpec, IndexSettings } from '../model/environment';
import { installFailure, InstallRequest } from './installer';
import { checkedLock, lockContext } from './lock';
import { pipInstallArgs, pipPlatformArgs } from './pip';

/**
 * An air-gapped build: `PYDEPOT_WHEELHOUSE` names a folder of wheelhouses
 * (`<folder>/<environment>/`, what the wheelhouse target writes). When it is
 * set, the install stage never contacts an index: it installs from the
 * environment's own wheelhouse only. With a lock, hashes are still required,
 * so the installed files are exactly those of a connected build.
 */
export const WHEELHOUSE_ENV = 'PYDEPOT_WHEELHOUSE';

export function wheelhouseIndex(spec: EnvironmentSpec, env: NodeJS.ProcessEnv = process.env, platform?: TargetPlatform): IndexSettings | undefined {
  const root = env[WHEELHOUSE_ENV];
  if (!root) return undefined;
  // Another platform's wheelhouse (what wheelhouse-windows writes): <folder>/windows/<environment>.
  return { url: spec.index.url, extraUrls: [], findLinks: [path.resolve(platform ? platformFolder(root, platform, path.join) : root, spec.name)], noIndex: true };
}

/**
 * The wheelhouse target: download every artifact the environment's
 * the install stage would install (its lock, with hashes, when there is one;
 * otherwise its packages and all their dependencies) into `outputPath`,
 * with the environment's own pip, so platform and Python tags are its own.
 * In-repo packages are not included: they are built from source.
 */
export async function downloadWheelhouse(options: {
  inputPath: string;
  outputPath: string;
  spec: EnvironmentSpec;
  cacheDir: string;
  localWheelDirs?: string[];
  log: (m: string) => void;
}): Promise<string[]> {
  const { spec } = options;
  const manifest = await readManifest(options.inputPath);
  const local = await listWheels(options.localWheelDirs ?? []);
  // A Windows environment built here: the agent's CPython of its version downloads its win_amd64 wheels.
  const standIn = standInFor(manifest);
  const lock = checkedLock(spec, manifest.python.version, lockContext(manifest, local), foreignPlatformOf(manifest));
  const request: InstallRequest = {
    packages: lock ? [] : spec.packages,
    requirementFiles: lock ? [lock] : spec.requirements,
    requireHashes: lock !== undefined,
    // In-repo packages let the resolver see what they depend on; their own wheels are not downloaded.
    index: { ...spec.index, findLinks: [...spec.index.findLinks, ...local.map((w) => path.dirname(w.file))] },
    cacheDir: options.cacheDir,
    environment: spec.name,
    specFile: spec.file,
  };
  options.log(`downloading ${lock ? path.basename(lock) : spec.packages.join(', ') || 'requirements'} into ${options.outputPath}`);
  return buildDirectoryAtomically(options.outputPath, async (tmp) => {
    // `pip download` takes install's source options; the install-only ones are dropped.
    const args = pipInstallArgs(request).filter((a) => !['install', '--no-compile', '--no-warn-script-location'].includes(a));
    try {
      const failure = { failure: `pip could not download the packages of environment "${spec.name}"`, tailLines: 25 };
      if (standIn) {
        const minor = manifest.python.version.split('.').slice(0, 2).join('.');
        await run(standIn, ['-I', '-m', 'pip', 'download', '--dest', tmp, ...args, ...pipPlatformArgs(WHEEL_PLATFORMS.windows.pip, minor)], { env: isolatedPythonEnv(), ...failure });
      } else await runPython(options.inputPath, ['-m', 'pip', 'download', '--dest', tmp, ...args], failure);
    } catch (error) {
      throw await installFailure(error, request);
    }
    const names = new Set(local.map((w) => w.file.split(path.sep).pop()));
    for (const file of await fs.readdir(tmp)) if (names.has(file)) await fs.rm(path.join(tmp, file));
    return (await fs.readdir(tmp)).sort();
  });
}
