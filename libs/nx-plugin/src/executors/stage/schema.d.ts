import type { InstallExecutorSchema } from '../install/schema';
import type { PublishExecutorSchema } from '../publish/schema';
import type { VenvExecutorSchema } from '../venv/schema';

/** The union of the three stages' options (schema.json is generated from theirs: tools/scripts/sync-schemas.js). */
export type StageExecutorSchema = { stage: 'venv' | 'install' | 'publish' } & VenvExecutorSchema & InstallExecutorSchema & PublishExecutorSchema;
