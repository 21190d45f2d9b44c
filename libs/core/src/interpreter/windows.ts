import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { run } from '../process/run';
import { findInterpreter, InstalledPython } from './discover';

/*
 * Windows runtimes built on a Linux agent (docs/WINDOWS.md). Nothing of a
 * Windows CPython runs here, so two things stand in for it: mingw-w64
 * cross-compiles pydepot's launcher against the runtime's own headers, and a
 * CPython of the same version installed on the agent byte-compiles (the
 * bytecode format is the version's, not the OS's) and runs pip for win_amd64.
 */

/** The C source of the Windows launcher. */
export const WINDOWS_LAUNCHER_SOURCE = path.resolve(__dirname, '..', '..', 'native', 'launcher_win.c');

/** Where a Windows runtime keeps its launchers (copied into each environment's Scripts\). */
export const WINDOWS_LAUNCHERS = { console: 'pydepot/python.exe', gui: 'pydepot/pythonw.exe' } as const;

/**
 * Hardened like the POSIX launcher: warnings are errors, fortified buffer
 * writes, a stack protector, ASLR (dynamicbase, high-entropy VA) and DEP
 * (nxcompat). Linked statically: the launcher needs no DLL but the system's
 * (KERNEL32, msvcrt), so nothing is looked up beside it or on PATH.
 */
export const WINDOWS_LAUNCHER_CFLAGS = ['-municode', '-O2', '-s', '-Wall', '-Wextra', '-Werror', '-Wformat=2', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-static', '-Wl,--dynamicbase', '-Wl,--nxcompat', '-Wl,--high-entropy-va', '-Wl,--no-insert-timestamp'];

/** mingw-w64's C compiler: PYDEPOT_WINDOWS_CC, else x86_64-w64-mingw32-gcc on PATH. */
export async function findWindowsCompiler(env: NodeJS.ProcessEnv = process.env): Promise<string | undefined> {
  const wanted = env.PYDEPOT_WINDOWS_CC?.trim() || 'x86_64-w64-mingw32-gcc';
  if (wanted.includes('/')) return (await executable(wanted)) ? wanted : undefined;
  for (const dir of (env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const candidate = path.join(dir, wanted);
    if (await executable(candidate)) return candidate;
  }
  return undefined;
}

/** Build python.exe and pythonw.exe for the Windows prefix `prefix` (CPython `minor`) into its pydepot/ folder. */
export async function buildWindowsLaunchers(prefix: string, minor: string, log: (m: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const include = path.join(prefix, 'include');
  const dll = `python${minor.replace('.', '')}.dll`;
  if (!(await exists(path.join(include, 'Python.h'))) || !(await exists(path.join(prefix, dll)))) {
    throw new PydepotError(`this Windows CPython has no include\\Python.h or ${dll}: pydepot's launcher cannot be built for it`, {
      hint: 'use a full CPython distribution (the NuGet "python" package, the MSI with its development headers, an archive of an installed CPython), not the embeddable zip',
    });
  }
  const compiler = await findWindowsCompiler(env);
  if (!compiler) {
    throw new PydepotError('no mingw-w64 C compiler found to build the Windows launcher', {
      hint: 'install it on the build agent (Debian: apt-get install gcc-mingw-w64-x86-64) or set PYDEPOT_WINDOWS_CC',
    });
  }
  await fs.mkdir(path.join(prefix, 'pydepot'), { recursive: true });
  log(`building the Windows launchers (python.exe, pythonw.exe) with ${path.basename(compiler)}`);
  for (const [kind, rel] of Object.entries(WINDOWS_LAUNCHERS)) {
    const out = path.join(prefix, ...rel.split('/'));
    await run(compiler, [...WINDOWS_LAUNCHER_CFLAGS, ...(kind === 'gui' ? ['-mwindows'] : []), '-o', `${out}.tmp`, WINDOWS_LAUNCHER_SOURCE, `-I${include}`, `-DPYDEPOT_PYTHON_DLL=L"${dll}"`], {
      failure: `cannot compile the Windows launcher ${rel}`,
      hint: 'check that mingw-w64 works (x86_64-w64-mingw32-gcc --version)',
    });
    await fs.rename(`${out}.tmp`, out);
  }
}

/**
 * The agent's CPython of a Windows runtime's version: it byte-compiles the
 * runtime and its environments and runs pip for them. Same minor version:
 * the bytecode must be the one the runtime reads.
 */
export function standInInterpreter(version: string): InstalledPython {
  const minor = version.split('.').slice(0, 2).join('.');
  try {
    return findInterpreter(minor);
  } catch (error) {
    throw new PydepotError(`building for Windows CPython ${version} on this agent needs a CPython ${minor} here (it byte-compiles and runs pip for win_amd64): ${(error as Error).message}`, {
      hint: `install CPython ${minor} on the agent (pyenv install ${minor}, uv python install ${minor}) or add its prefix to PYDEPOT_PYTHON_PATH`,
    });
  }
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file).then(
    () => true,
    () => false,
  );
}

async function executable(file: string): Promise<boolean> {
  return fs.access(file, constants.X_OK).then(
    () => true,
    () => false,
  );
}
