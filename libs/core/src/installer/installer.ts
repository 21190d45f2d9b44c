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
}

/**
 * Installs packages into an environment by name. pip today; uv slots in
 * behind the same interface, so executors never branch on the installer.
 */
export interface Installer {
  readonly name: string;
  install(root: string, request: InstallRequest): Promise<void>;
}
