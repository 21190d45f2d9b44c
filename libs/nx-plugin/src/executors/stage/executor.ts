import type { ExecutorContext } from '@nx/devkit';
import { PydepotError } from '@pydepot/core';
import { batchOf, runExecutor } from '../../utils/run-executor';
import type { StageExecutorSchema } from './schema';

type Executor = (options: never, context: ExecutorContext) => Promise<{ success: boolean }>;

/**
 * The stages, as sync-schemas.js declares them (its STAGES, written into this
 * executor's schema.json as the enum of "stage"): each is the executor of
 * that name, with the options its own schema.json lists.
 */
const STAGE_NAMES: string[] = require('./schema.json').properties.stage.enum;
function stageOf(name: string): { run: Executor; options: Record<string, unknown> } | undefined {
  if (!STAGE_NAMES.includes(name)) return undefined;
  return { run: require(`../${name}/executor`).default, options: require(`../${name}/schema.json`).properties };
}

/**
 * An inferred stage target: the venv, install or publish executor, by
 * option. One executor name for the three is what lets Nx put an
 * environment's whole chain in one batch process (`stageBatch`): a tools
 * developer's `nx run tool:publish` starts one Node process, not three.
 * The options are checked against the chosen stage's own schema, which Nx's
 * check against this union schema cannot do.
 */
export default async function stageExecutor(options: StageExecutorSchema, context: ExecutorContext) {
  const { stage, ...rest } = options;
  const chosen = stageOf(stage);
  const foreign = chosen ? Object.keys(rest).filter((key) => !Object.hasOwn(chosen.options, key)) : [];
  if (!chosen || foreign.length) {
    return runExecutor('stage', {}, context, async () => {
      const target = `${context.projectName}:${context.targetName}`;
      throw new PydepotError(
        chosen
          ? `target ${target} sets ${foreign.map((k) => `"${k}"`).join(', ')}, which the ${stage} stage does not take`
          : `target ${target} has "stage": ${JSON.stringify(stage)}; it must be one of ${STAGE_NAMES.map((s) => `"${s}"`).join(', ')}`,
        { hint: chosen ? `remove it from the target's options (the ${stage} executor's schema.json lists what it takes)` : 'the inference plugin sets "stage": leave it out of project.json and nx.json targetDefaults' },
      );
    });
  }
  return chosen.run(rest as never, context);
}

/** Every stage task of a run in one process, each after the tasks it depends on (executors.json `preferBatch`). */
export const batch = batchOf(stageExecutor);
