import { PythonRequest } from '../spec/environment';
import { ArchiveSource } from './archive';
import { InstalledPythonSource } from './installed';
import { DistributionSource } from './source';

/** The one place that maps a request to a source; executors only see DistributionSource. */
export function resolveDistribution(request: PythonRequest): DistributionSource {
  switch (request.source) {
    case 'installed':
      return new InstalledPythonSource(request.version);
    case 'archive':
      return new ArchiveSource(request.archive, request.sha256);
  }
}

export * from './source';
export { ArchiveSource } from './archive';
export { InstalledPythonSource } from './installed';
export { extractArchive, archiveFormat } from './extract';
export { fetchVerified, DOWNLOAD_CACHE_LAYOUT } from './download';
export { isPruned } from './prune';

/**
 * What identifies the Python an environment is built from, for cache keys
 * (an Nx runtime input). Never throws: a bad spec yields a line that still
 * hashes, and the executor then reports the error properly.
 */
export function distributionIdentity(specFile: string): string {
  try {
    const { loadEnvironmentSpec } = require('../spec/environment') as typeof import('../spec/environment');
    const spec = loadEnvironmentSpec(specFile);
    return resolveDistribution(spec.python).identity();
  } catch (error) {
    return `unresolved ${process.platform}-${process.arch} ${(error as Error).message.split('\n')[0]}`;
  }
}
