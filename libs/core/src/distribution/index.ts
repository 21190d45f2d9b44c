import { PydepotError } from '../errors';
import { findInterpreter } from '../interpreter/discover';
import { PYTHON_PREFERENCES, PythonPreference, PythonRequest } from '../model/environment';
import { ArchiveSource, nugetSource } from './archive';
import { InstalledPythonSource } from './installed';
import { MsiSource } from './msi';
import { DistributionSource } from './source';
import { StandaloneSource } from './standalone';

/**
 * The workspace's default for bare versions: PYDEPOT_PYTHON_PREFERENCE (set
 * it in the workspace's .env, or per CI agent), else "installed": never a
 * surprise download, and a missing version is an error that lists what is
 * installed. "standalone" always downloads python-build-standalone; "auto"
 * uses an installed CPython when one matches and downloads otherwise.
 */
export function pythonPreference(env: NodeJS.ProcessEnv = process.env): PythonPreference {
  const value = env.PYDEPOT_PYTHON_PREFERENCE;
  if (!value) return 'installed';
  if (!(PYTHON_PREFERENCES as string[]).includes(value)) {
    throw new PydepotError(`PYDEPOT_PYTHON_PREFERENCE must be ${PYTHON_PREFERENCES.map((p) => `"${p}"`).join(', ')}; got "${value}"`, {
      hint: 'fix the variable (in the environment or the workspace .env)',
    });
  }
  return value as PythonPreference;
}

/** The one place that maps a request to a source; executors only see DistributionSource. */
export function resolveDistribution(request: PythonRequest, env: NodeJS.ProcessEnv = process.env): DistributionSource {
  switch (request.source) {
    case 'version': {
      const preference = request.preference ?? pythonPreference(env);
      const standalone = () => new StandaloneSource(request.version, request.release, { sha256: request.sha256, mirror: request.mirror });
      if (preference === 'standalone') return standalone();
      if (preference === 'installed') return new InstalledPythonSource(request.version);
      try {
        findInterpreter(request.version);
      } catch {
        return standalone();
      }
      return new InstalledPythonSource(request.version);
    }
    case 'archive':
      return new ArchiveSource(request.archive, request.sha256);
    case 'msi':
      return new MsiSource(request.msi, request.sha256);
    case 'nuget':
      return nugetSource({ version: request.version, sha256: request.sha256, package: request.package, feed: request.feed }, env);
  }
}

export * from './source';
export { ArchiveSource, nugetSource, NUGET_FEED, unpackPythonArchive } from './archive';
export { InstalledPythonSource } from './installed';
export { MsiSource, extractMsi } from './msi';
export {
  StandaloneSource,
  DEFAULT_STANDALONE_RELEASE,
  STANDALONE_RELEASES_URL,
  parseSha256Sums,
  resolveStandaloneAsset,
  standaloneMirror,
  standaloneTriple,
} from './standalone';
export { extractArchive, archiveFormat } from '../extract/extract';
export { fetchVerified, fetchTextCached, isOffline, DOWNLOAD_CACHE_LAYOUT } from '../download/download';
export { isPruned } from './prune';

/**
 * What identifies the Python an environment is built from, for cache keys
 * (an Nx runtime input), plus the spec fields the unpack stage reads. Never throws: a bad spec yields a line that still
 * hashes, and the executor then reports the error properly.
 */
export function distributionIdentity(specFile: string): string {
  try {
    const { loadEnvironmentSpec } = require('../model/environment') as typeof import('../model/environment');
    const spec = loadEnvironmentSpec(specFile);
    // Spec fields the unpack stage reads (the spec file itself is an input of install only).
    return `${resolveDistribution(spec.python).identity()}${spec.includeStdlibTests ? ' +stdlib-tests' : ''}`;
  } catch (error) {
    return `unresolved ${process.platform}-${process.arch} ${(error as Error).message.split('\n')[0]}`;
  }
}
