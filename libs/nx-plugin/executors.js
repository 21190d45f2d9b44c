// The executors Nx runs (executors.json points here). Plain JavaScript, so Nx
// does not load its TypeScript transpiler in every task process (~0.9 s each);
// bin/register.js transpiles the sources with @swc/core once and caches them.
// Each executor loads only when Nx asks for it.
'use strict';
require('./bin/register');
const load = (name) => require(`./src/executors/${name}/executor.ts`).default;
module.exports = {
  get 'unpack'() {
    return load('unpack');
  },
  get 'ensurepip'() {
    return load('ensurepip');
  },
  get 'venv'() {
    return load('venv');
  },
  get 'pip-install'() {
    return load('pip-install');
  },
  get 'publish'() {
    return load('publish');
  },
  get 'verify'() {
    return load('verify');
  },
  get 'rollback'() {
    return load('rollback');
  },
  get 'lock'() {
    return load('lock');
  },
  get 'build-wheel'() {
    return load('build-wheel');
  },
  get 'wheelhouse'() {
    return load('wheelhouse');
  },
};
