// The executors Nx runs (executors.json points here). Plain JavaScript, so Nx
// does not load its TypeScript transpiler in every task process (~0.9 s each);
// bin/register.js transpiles the sources with @swc/core once and caches them.
// Each executor loads only when Nx asks for it.
'use strict';
require('./bin/register');

const NAMES = ['runtime', 'unpack', 'ensurepip', 'venv', 'install', 'publish', 'stage', 'verify', 'rollback', 'lock', 'build-wheel', 'wheelhouse'];
for (const name of NAMES) {
  Object.defineProperty(module.exports, name, { enumerable: true, get: () => require(`./src/executors/${name}/executor.ts`).default });
}
// Batch implementations (executors.json "batchImplementation"): several tasks in one process.
Object.defineProperty(module.exports, 'publishBatch', { enumerable: false, get: () => require('./src/executors/publish/executor.ts').batch });
Object.defineProperty(module.exports, 'stageBatch', { enumerable: false, get: () => require('./src/executors/stage/executor.ts').batch });
