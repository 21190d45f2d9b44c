import * as path from 'node:path';
import { EnvironmentManifest, MANIFEST_FILE } from '../environment/manifest';
import { PydepotError } from '../errors';

export interface PublishRequest {
  /** The built environment folder (the pip-install output). */
  buildPath: string;
  manifest: EnvironmentManifest;
  log: (message: string) => void;
}

export interface RollbackRequest {
  name: string;
  /** The version to make current; default: the one before the current one. */
  to?: string;
  log: (message: string) => void;
}

export interface PublishResult {
  version: string;
  /** Where users run it from (a folder, a repository URL + tag, an archive). */
  location: string;
  /** False when the depot already held this exact version. */
  copied: boolean;
  /** True when `current` was moved to this version. */
  currentChanged: boolean;
  /** Bytes of file content written to the depot. */
  bytesWritten: number;
  /** Files reused from the previous version (hard links) and files written. */
  filesLinked: number;
  filesCopied: number;
  /** Versions removed by the retention policy. */
  removed: string[];
}

/**
 * A place environments are published to: a directory (a network share, the
 * default), a git repository, archives. Perforce (or any other store) is one
 * more implementation of this interface, returned by `getPublisher`; the
 * executors never change (docs/PUBLISHING.md).
 */
export interface Publisher {
  readonly kind: string;
  publish(request: PublishRequest): Promise<PublishResult>;
  /** Make an earlier version current again. */
  rollback(request: RollbackRequest): Promise<PublishResult>;
}

/** Every publisher's first check: the build finished (its manifest has a name and a version). */
export function assertFinished(request: PublishRequest): asserts request is PublishRequest & { manifest: EnvironmentManifest & { name: string; version: string } } {
  if (!request.manifest.version || !request.manifest.name) {
    throw new PydepotError(`${path.join(request.buildPath, MANIFEST_FILE)} has no version: the build did not finish`, { hint: 'run the pip-install target again' });
  }
}
