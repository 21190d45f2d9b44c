// Shared Jest settings for every project in the workspace.
// execa 9 and its dependencies are ESM-only and Jest cannot require ESM, so
// they are transformed with @swc/jest like our own TypeScript (FINDINGS.md).
const esmOnly = [
  'execa',
  '@sec-ant/readable-stream',
  '@sindresorhus/merge-streams',
  'figures',
  'get-stream',
  'human-signals',
  'is-plain-obj',
  'is-stream',
  'is-unicode-supported',
  'npm-run-path',
  'parse-ms',
  'path-key',
  'pretty-ms',
  'strip-final-newline',
  'unicorn-magic',
  'yoctocolors',
];

module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.(t|j|mj)s$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  transformIgnorePatterns: [`/node_modules/(?!(${esmOnly.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
  moduleNameMapper: {
    // unicorn-magic exposes only an `import` condition.
    '^unicorn-magic$': '<rootDir>/node_modules/unicorn-magic/node.js',
    '^@pydepot/core$': '<rootDir>/libs/core/src/index.ts',
    '^@pydepot/nx-plugin$': '<rootDir>/libs/nx-plugin/src/index.ts',
  },
};
