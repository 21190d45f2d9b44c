import type { PublisherOptions } from '@pydepot/core';

/** Publisher settings (`to`, `depot`, …) are generated from the spec schema: tools/scripts/sync-schemas.js. */
export interface VerifyExecutorSchema extends PublisherOptions {
  /** The platform this target is for (set by the inference plugin); default: the build agent's. */
  platform?: 'linux' | 'windows';
  environment?: string;
  buildDir?: string;
  audit?: boolean;
  full?: boolean;
  runtime?: string;
}
