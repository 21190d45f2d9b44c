import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { run } from '../process/run';
import { isElf, readElfNeeded } from './elf';

/** The C source of the launcher (docs/RELOCATION.md, "The launcher"). */
export const LAUNCHER_SOURCE = path.resolve(__dirname, '..', '..', 'native', 'launcher.c');

/** The start-up hook that pairs with the launcher, written into site-packages. */
export const LAUNCH_HOOK = '_pydepot_launch';

export type PythonPathPolicy = 'ignore' | 'append';

/**
 * Replace `bin/python3.X` of a POSIX prefix with pydepot's launcher, compiled
 * here against the prefix's own headers: hermetic (PYTHONHOME & co. of a host
 * application are set aside), pinned to the version folder it runs from,
 * independent of argv[0], and loading libpython itself so venvs made with
 * `--copies` work. The original executable is only `main()` calling
 * Py_BytesMain, so nothing is lost.
 */
export async function installLauncher(prefix: string, minor: string, log: (m: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const exe = path.join(prefix, 'bin', `python${minor}`);
  const data = await fs.readFile(exe).catch(() => undefined);
  if (!data || !isElf(data)) return false; // not a Linux prefix we know how to launch
  const libpython = await findLibpython(prefix, minor, data);
  const include = path.join(prefix, 'include', `python${minor}`);
  if (!libpython || !(await exists(path.join(include, 'Python.h')))) {
    log(`warning: no shared libpython or headers in this CPython: bin/python${minor} is kept as it is (PYTHONHOME from a host application will break it; environments get a private copy of it)`);
    return false;
  }
  const compiler = await findCompiler(env);
  if (!compiler) {
    throw new PydepotError(`no C compiler found to build the interpreter launcher for bin/python${minor}`, {
      hint: 'install one on the build agent (Debian: apt-get install gcc) or set CC; the launcher keeps published environments working when a host application sets PYTHONHOME',
    });
  }
  const tmp = `${exe}.pydepot-launcher`;
  log(`building the interpreter launcher with ${path.basename(compiler)}`);
  await run(compiler, ['-O2', '-s', '-o', tmp, LAUNCHER_SOURCE, `-I${include}`, `-DPYDEPOT_LIBPYTHON="${libpython}"`, '-ldl'], {
    failure: `cannot compile the interpreter launcher for bin/python${minor}`,
    hint: 'check that the C compiler works (a compiler that builds C extensions builds the launcher)',
  });
  await fs.chmod(tmp, 0o755);
  await fs.rename(tmp, exe);
  return true;
}

/** The file name of the libpython the interpreter needs (DT_NEEDED), if it is in lib/. */
async function findLibpython(prefix: string, minor: string, exe: Buffer): Promise<string | undefined> {
  const needed = readElfNeeded(exe) ?? [];
  const candidates = [...needed.filter((n) => n.startsWith('libpython')), `libpython${minor}.so.1.0`, `libpython${minor}.so`];
  for (const name of candidates) if (await exists(path.join(prefix, 'lib', name))) return name;
  return undefined;
}

async function findCompiler(env: NodeJS.ProcessEnv): Promise<string | undefined> {
  const wanted = env.CC ? [env.CC] : ['cc', 'gcc', 'clang'];
  for (const name of wanted) {
    if (name.includes('/')) {
      if (await exists(name, constants.X_OK)) return name;
      continue;
    }
    for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
      const candidate = path.join(dir, name);
      if (await exists(candidate, constants.X_OK)) return candidate;
    }
  }
  return undefined;
}

async function exists(file: string, mode = constants.F_OK): Promise<boolean> {
  return fs.access(file, mode).then(
    () => true,
    () => false,
  );
}

/**
 * The start-up hook (`_pydepot_launch.py` + a .pth that imports it): puts the
 * variables the launcher set aside back into os.environ, so child processes
 * see what the launching application meant them to see, and applies the
 * environment's PYTHONPATH policy (docs/HOST-APPS.md).
 */
export function launchHook(policy: PythonPathPolicy): { module: string; pth: string } {
  const module = `"""pydepot start-up hook (generated; see docs/HOST-APPS.md, "Hermetic launches").

pydepot's launcher set aside the interpreter variables (PYTHONHOME,
PYTHONPATH, ...) that the launching host application set, recording each in
PYDEPOT_HOST_<NAME> ("1<value>" or "0"): this interpreter never used them.
Child processes get them back. PYTHONPATH entries are appended to sys.path
(after the environment's own paths) only when the environment's
"pythonPath" policy is "append".
"""
import os
import sys

PYTHONPATH_POLICY = ${JSON.stringify(policy)}


def _restore():
    for key, stash in list(os.environ.items()):
        if not key.startswith("PYDEPOT_HOST_") or not stash.startswith("1"):
            continue
        name, value = key[len("PYDEPOT_HOST_"):], stash[1:]
        if name in os.environ:
            continue  # honoured: a parent process of this environment set it
        os.environ[name] = value
        if name == "PYTHONPATH" and PYTHONPATH_POLICY == "append":
            for entry in value.split(os.pathsep):
                entry = os.path.abspath(entry) if entry else ""
                if entry and entry not in sys.path:
                    sys.path.append(entry)


_restore()
del _restore
`;
  return { module, pth: `import ${LAUNCH_HOOK}\n` };
}
