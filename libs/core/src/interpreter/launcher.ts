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
  log(`building the interpreter launcher with ${path.basename(compiler.file)}`);
  await run(compiler.file, [...compiler.args, ...LAUNCHER_CFLAGS, '-o', tmp, LAUNCHER_SOURCE, `-I${include}`, `-DPYDEPOT_LIBPYTHON="${libpython}"`, '-ldl'], {
    failure: `cannot compile the interpreter launcher for bin/python${minor}`,
    hint: 'check that the C compiler works (a compiler that builds C extensions builds the launcher)',
  });
  await fs.chmod(tmp, 0o755);
  await fs.rename(tmp, exe);
  return true;
}

/**
 * The launcher runs in every artist's process: built hardened. Warnings are
 * errors (a new compiler's warning is a question to answer, not to ship),
 * _FORTIFY_SOURCE=2 checks buffer writes the compiler can size, a stack
 * protector, position independence and full RELRO (`-z relro -z now`: the
 * GOT is read-only before main runs).
 */
export const LAUNCHER_CFLAGS = ['-O2', '-s', '-Wall', '-Wextra', '-Werror', '-Wformat=2', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie', '-Wl,-z,relro', '-Wl,-z,now', '-Wl,-z,noexecstack'];

/** The file name of the libpython the interpreter needs (DT_NEEDED), if it is in lib/. */
async function findLibpython(prefix: string, minor: string, exe: Buffer): Promise<string | undefined> {
  const needed = readElfNeeded(exe) ?? [];
  const candidates = [...needed.filter((n) => n.startsWith('libpython')), `libpython${minor}.so.1.0`, `libpython${minor}.so`];
  for (const name of candidates) if (await exists(path.join(prefix, 'lib', name))) return name;
  return undefined;
}

/** CC may carry arguments, as make's does (`ccache gcc`, `gcc -m64`): the first word is the program. */
export async function findCompiler(env: NodeJS.ProcessEnv): Promise<{ file: string; args: string[] } | undefined> {
  const wanted = env.CC?.trim() ? [env.CC.trim().split(/\s+/)] : [['cc'], ['gcc'], ['clang']];
  for (const [name, ...args] of wanted) {
    if (name.includes('/')) {
      if (await exists(name, constants.X_OK)) return { file: name, args };
      continue;
    }
    for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
      const candidate = path.join(dir, name);
      if (await exists(candidate, constants.X_OK)) return { file: candidate, args };
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
Child processes get them back. PYTHONSTARTUP comes back only after the
interactive prompt would have read it (in sys.__interactivehook__), so a
host's start-up file never runs here. PYTHONPATH entries are appended to
sys.path only when the environment's "pythonPath" policy is "append", and
then after every site-packages folder (the environment's and its runtime's):
a host path can add modules, never shadow one this environment holds.
"""
import os
import sys

PYTHONPATH_POLICY = ${JSON.stringify(policy)}


def _host_values():
    for key, stash in list(os.environ.items()):
        if key.startswith("PYDEPOT_HOST_") and stash.startswith("1"):
            name = key[len("PYDEPOT_HOST_"):]
            if name not in os.environ:  # set: honoured, a parent process of this environment chose it
                yield name, stash[1:]


def _append_host_path(value):
    for entry in value.split(os.pathsep):
        entry = os.path.abspath(entry) if entry else ""
        if entry and entry not in sys.path:
            sys.path.append(entry)


def _after_site(work):
    # This module is imported from a .pth while site.py is still adding site-packages
    # folders (the runtime's come after the environment's): run \`work\` once site.py is done,
    # just before it runs sitecustomize.
    import site
    original = getattr(site, "execsitecustomize", None)
    if original is None:
        work()
        return

    def execsitecustomize():
        site.execsitecustomize = original
        work()
        original()

    site.execsitecustomize = execsitecustomize


def _restore():
    deferred = []
    for name, value in _host_values():
        if name == "PYTHONSTARTUP":
            deferred.append(value)
            continue
        os.environ[name] = value
        if name == "PYTHONPATH" and PYTHONPATH_POLICY == "append":
            _after_site(lambda value=value: _append_host_path(value))
    if deferred:
        _after_site(lambda: _defer_startup(deferred[0]))


def _defer_startup(value):
    # CPython reads PYTHONSTARTUP for an interactive prompt right before it calls
    # sys.__interactivehook__: put it back for child processes only then.
    hook = getattr(sys, "__interactivehook__", None)

    def interactivehook():
        os.environ.setdefault("PYTHONSTARTUP", value)
        if hook is not None:
            hook()

    if sys.argv[:1] in ([""], ["-"]):
        sys.__interactivehook__ = interactivehook
    else:
        os.environ.setdefault("PYTHONSTARTUP", value)


def _drop_scripts_folder():
    # Windows: CPython's getpath puts the folder of sys.executable on sys.path; in a venv
    # that is Scripts\\, which holds programs, not modules (a package's data script there
    # must not shadow a module). The script a program runs is put first later, as ever.
    if os.name != "nt":
        return
    scripts = os.path.dirname(sys.executable)
    if not os.path.isfile(os.path.join(os.path.dirname(scripts), "pyvenv.cfg")):
        return
    folded = os.path.normcase(scripts)
    sys.path[:] = [p for p in sys.path if os.path.normcase(p) != folded]


_restore()
_drop_scripts_folder()
del _restore, _drop_scripts_folder
`;
  return { module, pth: `import ${LAUNCH_HOOK}\n` };
}
