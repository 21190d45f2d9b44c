import { ProcessError } from '../errors';
import { IndexSettings } from '../spec/environment';

export interface InstallRequest {
  packages: string[];
  requirementFiles: string[];
  index: IndexSettings;
  cacheDir: string;
  /** Environment name, for messages. */
  environment: string;
  /** The spec file, for messages. */
  specFile: string;
  /** Install exactly the (locked) requirements: every artifact must match a listed hash, no dependency is added. */
  requireHashes?: boolean;
}

/**
 * Installs packages into an environment by name. pip today; uv slots in
 * behind the same interface, so executors never branch on the installer.
 */
export interface Installer {
  readonly name: string;
  install(root: string, request: InstallRequest): Promise<void>;
}

/** A failed installer process, re-thrown with the hint every installer gives. */
export function installFailure(error: unknown, request: InstallRequest): unknown {
  if (!(error instanceof ProcessError)) return error;
  return new ProcessError(error.message, error.command, error.exitCode, error.output, {
    hint: `check the package names and versions in ${request.specFile} ("packages", "requirements") and that ${request.index.noIndex ? 'the find-links folders hold them' : `the index ${request.index.url} serves them`}; nothing was published`,
  });
}
