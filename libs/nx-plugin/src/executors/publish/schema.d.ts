import type { PublisherOptions } from '@pydepot/core';

/** Publisher settings (`to`, `depot`, …) are generated from the spec schema: tools/scripts/sync-schemas.js. */
export interface PublishExecutorSchema extends PublisherOptions {
  /** The platform this target is for (set by the inference plugin); default: the build agent's. */
  platform?: 'linux' | 'windows';
  environment?: string;
  buildDir?: string;
  inputPath?: string;
  audit?: boolean;
  runtime?: string;
}
