/** The plugin's executors, as targets name them (executors.json). */
export const EXECUTORS = '@pydepot/nx-plugin';

/**
 * The executor of every inferred venv, install and publish target (option
 * "stage" picks which): one executor name, so Nx runs an environment's chain
 * in one batch process (executors/stage).
 */
export const STAGE_EXECUTOR = `${EXECUTORS}:stage`;
