/**
 * The environment a build-time Python or pip runs in. The build machine's own
 * configuration must not leak into a published environment: these machines set
 * PIP_FIND_LINKS and a global pip.conf with constraints and extra indexes, and
 * PYTHON* variables change what the interpreter imports. We drop all of them
 * and point PIP_CONFIG_FILE at the null device, which makes pip skip every
 * config file (global, user and site) — `--isolated` alone still reads the
 * global one. Proxy and CA variables pass through untouched.
 */
export function isolatedPythonEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(base)) {
    if (value === undefined) continue;
    const upper = key.toUpperCase();
    if (upper.startsWith('PIP_') || upper.startsWith('PYTHON') || upper.startsWith('UV_')) continue;
    if (upper === 'VIRTUAL_ENV' || upper === 'CONDA_PREFIX' || upper === '__PYVENV_LAUNCHER__') continue;
    env[key] = value;
  }
  env.PIP_CONFIG_FILE = process.platform === 'win32' ? 'nul' : '/dev/null';
  env.PIP_DISABLE_PIP_VERSION_CHECK = '1';
  env.PIP_NO_INPUT = '1';
  env.PYTHONNOUSERSITE = '1';
  // Bytecode is compiled once, explicitly, in unchecked-hash mode (see compile.ts).
  env.PYTHONDONTWRITEBYTECODE = '1';
  env.PYTHONIOENCODING = 'utf-8';
  return env;
}
