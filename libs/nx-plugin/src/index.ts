export { createNodesV2, normalizeOptions, pluginInputs, ENVIRONMENT_GLOB } from './plugins/plugin';
export type { PydepotPluginOptions } from './plugins/plugin';
export { stagePath, STAGES, DEFAULT_BUILD_DIR, DEFAULT_DEPOT } from './utils/paths';
