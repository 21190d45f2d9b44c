import * as path from 'node:path';

/**
 * Where things live in a self-contained environment, per OS. The root of a
 * published environment is the interpreter's own prefix.
 */
export interface EnvironmentLayout {
  os: 'posix' | 'windows';
  /** Folder of the interpreter and console scripts, relative to the root. */
  scriptsDir: string;
  /** The stable interpreter entry point, relative to the root. */
  python: string;
  sitePackages(minor: string): string;
  /** Folders holding .py files to byte-compile. */
  libDirs(minor: string): string[];
  /** Folders a host application prepends to PATH, relative to the root. */
  pathEntries: string[];
}

export const POSIX_LAYOUT: EnvironmentLayout = {
  os: 'posix',
  scriptsDir: 'bin',
  python: 'bin/python',
  sitePackages: (minor) => `lib/python${minor}/site-packages`,
  libDirs: (minor) => [`lib/python${minor}`],
  pathEntries: ['bin'],
};

export const WINDOWS_LAYOUT: EnvironmentLayout = {
  os: 'windows',
  scriptsDir: 'Scripts',
  python: 'python.exe',
  sitePackages: () => 'Lib/site-packages',
  libDirs: () => ['Lib'],
  pathEntries: ['.', 'Scripts'],
};

/**
 * A Windows environment in the shared layout: a venv (pyvenv.cfg at its
 * root, pydepot's launchers in Scripts\), as CPython's own venvs are laid
 * out, so tools that know venvs find their way.
 */
export const WINDOWS_SHARED_LAYOUT: EnvironmentLayout = {
  ...WINDOWS_LAYOUT,
  python: 'Scripts/python.exe',
  pathEntries: ['Scripts'],
};

export function hostLayout(): EnvironmentLayout {
  return process.platform === 'win32' ? WINDOWS_LAYOUT : POSIX_LAYOUT;
}

/** Path functions for the layout's OS, so Windows layouts are testable on Linux. */
export function pathApi(layout: EnvironmentLayout): path.PlatformPath {
  return layout.os === 'windows' ? path.win32 : path.posix;
}

export function pythonPath(root: string, layout: EnvironmentLayout = hostLayout()): string {
  return pathApi(layout).join(root, ...layout.python.split('/'));
}

export function scriptsPath(root: string, layout: EnvironmentLayout = hostLayout()): string {
  return pathApi(layout).join(root, ...layout.scriptsDir.split('/'));
}

export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}

/**
 * Where the depot (and the build folder) keeps shared runtimes: a sibling of
 * the environments' folders, two levels above each environment version
 * (`<depot>/<env>/<version>` → `../../_runtimes/<id>`).
 */
export const RUNTIMES_DIR = '_runtimes';

/**
 * The files of an environment in the shared layout (docs/RELOCATION.md), per
 * OS: the launcher (a copy of the runtime's, named as the runtime names it),
 * its aliases, and pyvenv.cfg, whose `home` is relative to the environment's
 * root: the folder holding the runtime's interpreter, two levels up in
 * `_runtimes/`. On Windows that folder is the runtime's root (python.exe and
 * python3XY.dll sit there) and the launchers are Scripts\python.exe and
 * pythonw.exe (launcher_win.c); on POSIX its bin/.
 */
export interface SharedLayoutFiles {
  /** The launcher, relative to the environment's root. */
  launcher: string;
  /** The runtime's launcher it is copied from, relative to the runtime's root. */
  runtimeLauncher: string;
  /** Other names of the interpreter (POSIX symlinks to the launcher). */
  aliases: string[];
  /** Windows: pythonw.exe, the GUI-subsystem launcher, copied from the runtime's. */
  guiLauncher?: { file: string; from: string };
  /** pyvenv.cfg's `home`, relative to the environment's root, in the OS's separators. */
  home: string;
  /** pyvenv.cfg's content. */
  pyvenvCfg: string;
}

export function sharedLayoutFiles(layout: EnvironmentLayout, runtimeId: string, version: string): SharedLayoutFiles {
  const p = pathApi(layout);
  const minor = minorOf(version);
  const runtimeRoot = p.join('..', '..', RUNTIMES_DIR, runtimeId);
  const windows = layout.os === 'windows';
  const launcher = windows ? 'Scripts/python.exe' : `${layout.scriptsDir}/python${minor}`;
  const home = windows ? runtimeRoot : p.join(runtimeRoot, layout.scriptsDir);
  const pyvenvCfg = [`home = ${home}`, 'include-system-site-packages = true', `version = ${version}`, `pydepot-runtime = ${runtimeId}`].join('\n') + '\n';
  return {
    launcher,
    // A Windows runtime keeps its launchers apart (interpreter/windows.ts): its own python.exe stays CPython's.
    runtimeLauncher: windows ? 'pydepot/python.exe' : launcher,
    aliases: windows ? [] : [`${layout.scriptsDir}/python`, `${layout.scriptsDir}/python3`],
    ...(windows ? { guiLauncher: { file: 'Scripts/pythonw.exe', from: 'pydepot/pythonw.exe' } } : {}),
    home,
    pyvenvCfg,
  };
}
