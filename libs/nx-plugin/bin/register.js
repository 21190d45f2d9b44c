// A minimal require hook for the TypeScript sources of libs/, for the small
// scripts Nx runs on every hash (python-identity.js). @swc-node/register
// loads the TypeScript compiler (~0.5 s per process); this transpiles with
// @swc/core only when a file changed and keeps the output in
// node_modules/.cache/pydepot-ts, so a warm run loads plain JavaScript.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const crypto = require('node:crypto');
const Module = require('node:module');

const cacheDir = path.resolve(__dirname, '../../../node_modules/.cache/pydepot-ts-v2');
let swc;

function compile(source, filename) {
  // Keyed on the source alone (no source maps, so the output does not depend on the path):
  // workspace copies and clones sharing node_modules reuse each other's output.
  const key = crypto.createHash('sha256').update(source).digest('hex');
  const cached = path.join(cacheDir, `${key}.js`);
  try {
    return fs.readFileSync(cached, 'utf8');
  } catch {
    // not cached yet
  }
  swc ??= require('@swc/core');
  const { code } = swc.transformSync(source, {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
    sourceMaps: false,
  });
  try {
    fs.mkdirSync(cacheDir, { recursive: true });
    const tmp = `${cached}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, code);
    fs.renameSync(tmp, cached);
  } catch {
    // a read-only node_modules: compile every time
  }
  return code;
}

// The workspace's own path aliases (tsconfig.base.json "paths"), for the sources loaded through this hook.
const ALIASES = { '@pydepot/core': path.resolve(__dirname, '../../core/src/index.ts') };
const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolveFilename.call(this, ALIASES[request] ?? request, ...rest);
};

Module._extensions['.ts'] = function (module, filename) {
  module._compile(compile(fs.readFileSync(filename, 'utf8'), filename), filename);
};

// Worker threads start without this hook: code that starts one loads it there first (extract/worker.ts).
globalThis.__pydepotRequireHook = __filename;
