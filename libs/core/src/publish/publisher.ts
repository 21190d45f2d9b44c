import { EnvironmentManifest } from '../environment/manifest';

export interface PublishRequest {
  /** The built environment folder (the pip-install output). */
  buildPath: string;
  manifest: EnvironmentManifest;
  log: (message: string) => void;
}

export interface PublishResult {
  version: string;
  /** Where users run it from. */
  location: string;
  /** False when the depot already held this exact version. */
  copied: boolean;
  /** True when `current` was moved to this version. */
  currentChanged: boolean;
}

/**
 * A place environments are published to. The directory publisher (a network
 * share) is the default; git, archives and Perforce implement this too.
 */
export interface Publisher {
  readonly kind: string;
  publish(request: PublishRequest): Promise<PublishResult>;
}
