import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PydepotError } from '../errors';

/** A CPython install on this machine that can be copied as a self-contained prefix. */
export interface InstalledPython {
  version: string;
  prefix: string;
  /** Absolute path of the versioned executable (bin/python3.12, or python.exe on Windows). */
  executable: string;
  /** The prefix's layout: POSIX (bin/, lib/python3.X/) or Windows (python.exe, Lib/). */
  os: 'posix' | 'windows';
}

/**
 * Where installed CPythons are looked for, in order: PYDEPOT_PYTHON_PATH
 * (entries are prefixes or folders of prefixes), pyenv's versions folder and
 * uv's managed Pythons. System Pythons (/usr) are not self-contained prefixes
 * (Debian splits the stdlib and dist-packages) and are never adopted.
 */
export function pythonSearchRoots(env: NodeJS.ProcessEnv = process.env): string[] {
  const roots: string[] = [];
  for (const entry of (env.PYDEPOT_PYTHON_PATH ?? '').split(path.delimiter)) if (entry) roots.push(path.resolve(entry));
  const pyenvRoot = env.PYENV_ROOT || path.join(os.homedir(), '.pyenv');
  roots.push(path.join(pyenvRoot, 'versions'));
  const dataHome = env.XDG_DATA_HOME || path.join(os.homedir(), '.local', 'share');
  roots.push(path.join(env.UV_PYTHON_INSTALL_DIR || path.join(dataHome, 'uv', 'python')));
  return roots;
}

/** Read-only discovery: lists folders and reads patchlevel.h, never runs Python. */
export function findInstalledPythons(roots: string[] = pythonSearchRoots()): InstalledPython[] {
  const found = new Map<string, InstalledPython>();
  for (const root of roots) {
    const candidates = [root, ...listDirs(root)];
    for (const prefix of candidates) {
      const python = inspectPrefix(prefix);
      // A Windows tree is never adopted on POSIX (or the reverse): it cannot run here.
      if (python && python.os === hostOs() && !found.has(python.prefix)) found.set(python.prefix, python);
    }
  }
  return [...found.values()].sort((a, b) => compareVersions(b.version, a.version));
}

/** The newest install matching "3.12" (any 3.12.x) or "3.12.1" (exactly). */
export function findInterpreter(request: string, roots: string[] = pythonSearchRoots()): InstalledPython {
  const all = findInstalledPythons(roots);
  const match = all.find((p) => versionMatches(p.version, request));
  if (match) return match;
  const versions = [...new Set(all.map((p) => p.version))];
  throw new PydepotError(
    `no installed CPython ${request} found; found ${versions.length ? versions.join(', ') : 'none'} (searched ${roots.join(', ')})`,
    {
      hint: versions.length
        ? `set "python" to one of the versions found, install ${request} (for example \`pyenv install ${request}\`), add its prefix to PYDEPOT_PYTHON_PATH, or download it: {"version": "${request}", "source": "standalone"}`
        : `install CPython ${request} (for example \`pyenv install ${request}\`), add its prefix to PYDEPOT_PYTHON_PATH, or download it: {"version": "${request}", "source": "standalone"}`,
    },
  );
}

export function versionMatches(version: string, request: string): boolean {
  return version === request || version.startsWith(`${request}.`);
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export function hostOs(): 'posix' | 'windows' {
  return process.platform === 'win32' ? 'windows' : 'posix';
}

/**
 * A CPython prefix: POSIX (bin/python3.X, lib/python3.X/os.py,
 * include/python3.X/patchlevel.h) or Windows (python.exe, Lib/os.py,
 * include/patchlevel.h), as installers, MSIs and NuGet's tools/ lay it out.
 */
export function inspectPrefix(prefix: string): InstalledPython | undefined {
  if (existsSync(path.join(prefix, 'python.exe')) && existsSync(path.join(prefix, 'Lib', 'os.py'))) {
    const version = readPatchlevel(path.join(prefix, 'include', 'patchlevel.h'));
    return version ? { version, prefix, executable: path.join(prefix, 'python.exe'), os: 'windows' } : undefined;
  }
  const include = path.join(prefix, 'include');
  for (const dir of listDirs(include)) {
    const m = /^python(3\.\d+)$/.exec(path.basename(dir)); // free-threaded (python3.13t) builds are skipped
    if (!m) continue;
    const minor = m[1];
    const executable = path.join(prefix, 'bin', `python${minor}`);
    if (!existsSync(executable) || !existsSync(path.join(prefix, 'lib', `python${minor}`, 'os.py'))) continue;
    const version = readPatchlevel(path.join(dir, 'patchlevel.h'));
    if (version && version.startsWith(`${minor}.`)) return { version, prefix, executable, os: 'posix' };
  }
  return undefined;
}

function readPatchlevel(file: string): string | undefined {
  try {
    const m = /#define\s+PY_VERSION\s+"(\d+\.\d+\.\d+)"/.exec(readFileSync(file, 'utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}

function listDirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() || (d.isSymbolicLink() && isDir(path.join(dir, d.name))))
      .map((d) => path.join(dir, d.name))
      .sort();
  } catch {
    return [];
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The platform tag that goes into every cache key: a Linux build is never restored elsewhere. */
export function hostPlatform(): string {
  return `${process.platform}-${process.arch}`;
}
