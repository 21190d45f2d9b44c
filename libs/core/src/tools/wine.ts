import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { cacheDir } from '../fs/cache-dir';

/*
 * Wine: how a Linux agent runs what it built for Windows (the publish gate's
 * and verify's smoke checks; docs/WINDOWS.md). Optional: without it the
 * checks that need to run something are skipped, and said to be skipped.
 */

/** A command prefix that runs Windows programs here. */
export interface WindowsRunner {
  /** The wine binary. */
  file: string;
  env: NodeJS.ProcessEnv;
}

/**
 * Wine from PYDEPOT_WINE or PATH (`wine`, then `wine64`), with its own
 * prefix (WINEPREFIX, default `<pydepot cache>/wine-v1`: one per machine,
 * created by Wine on first use, ~10 s), its debug output silenced and no
 * dialog offering Mono or Gecko. Undefined when there is no Wine.
 */
export async function findWindowsRunner(env: NodeJS.ProcessEnv = process.env): Promise<WindowsRunner | undefined> {
  const wanted = env.PYDEPOT_WINE?.trim() ? [env.PYDEPOT_WINE.trim()] : ['wine', 'wine64'];
  for (const name of wanted) {
    const candidates = name.includes('/') ? [name] : (env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, name));
    for (const file of candidates) {
      if (await fs.access(file, constants.X_OK).then(() => true, () => false)) {
        const prefix = env.WINEPREFIX || path.join(cacheDir(env), 'wine-v1');
        await fs.mkdir(path.dirname(prefix), { recursive: true });
        return { file, env: { WINEPREFIX: prefix, WINEDEBUG: env.WINEDEBUG ?? '-all', WINEDLLOVERRIDES: env.WINEDLLOVERRIDES ?? 'mscoree,mshtml=' } };
      }
    }
  }
  return undefined;
}
