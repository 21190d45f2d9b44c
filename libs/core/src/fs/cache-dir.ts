import * as os from 'node:os';
import * as path from 'node:path';

/** Root of pydepot's machine-wide caches (downloads, tools, pip's HTTP cache). */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PYDEPOT_CACHE_DIR) return path.resolve(env.PYDEPOT_CACHE_DIR);
  const base = env.XDG_CACHE_HOME || (process.platform === 'win32' ? env.LOCALAPPDATA : undefined) || path.join(os.homedir(), '.cache');
  return path.join(base!, 'pydepot');
}

