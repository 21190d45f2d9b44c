export { createNodesV2, createDependencies, preTasksExecution, normalizeOptions, pluginInputs, ENVIRONMENT_GLOB, PYTHON_PACKAGE_GLOB } from './plugins/plugin';
export { probeRemoteCache } from './plugins/remote-cache';
export type { PydepotPluginOptions } from './plugins/plugin';
export { stagePath, STAGES, DEFAULT_BUILD_DIR, DEFAULT_DEPOT } from './utils/paths';
