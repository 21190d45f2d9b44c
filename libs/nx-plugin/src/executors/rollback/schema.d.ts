import type { PublisherOptions } from '@pydepot/core';

/** Publisher settings are generated from the spec schema (tools/scripts/sync-schemas.js); the publisher is `publisher`, since `to` is the version. */
export interface RollbackExecutorSchema extends Omit<PublisherOptions, 'to'> {
  /** The platform this target is for (set by the inference plugin); default: the build agent's. */
  platform?: 'linux' | 'windows';
  environment?: string;
  buildDir?: string;
  /** The version to make current. */
  to?: string;
  publisher?: PublisherOptions['to'];
}
