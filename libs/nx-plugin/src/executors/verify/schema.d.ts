import type { PublisherOptions } from '@pydepot/core';

/** Publisher settings (`to`, `depot`, …) are generated from the spec schema: tools/scripts/sync-schemas.js. */
export interface VerifyExecutorSchema extends PublisherOptions {
  environment?: string;
  buildDir?: string;
  audit?: boolean;
  full?: boolean;
  runtime?: string;
}
