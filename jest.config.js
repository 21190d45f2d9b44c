const preset = require('./jest.preset.js');

/**
 * `npm test` runs both projects. Unit tests are fast and mock only the
 * process boundary; e2e tests build real environments with real CPython and
 * pip in temp folders (they need the pyenv interpreters and PyPI).
 */
module.exports = {
  projects: [
    { ...preset, displayName: 'unit', rootDir: __dirname, testMatch: ['<rootDir>/libs/**/*.spec.ts'] },
    { ...preset, displayName: 'e2e', rootDir: __dirname, testMatch: ['<rootDir>/tools/e2e/**/*.spec.ts'] },
  ],
};
