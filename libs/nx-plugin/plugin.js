// The entry point Nx loads the plugin from (tsconfig paths: @pydepot/nx-plugin).
// Plain JavaScript, so Nx does not register its TypeScript transpiler in the
// plugin worker (~0.9 s on every Nx command): bin/register.js transpiles the
// sources with @swc/core once and loads them from its cache afterwards.
'use strict';
require('./bin/register');
module.exports = require('./src/index.ts');
