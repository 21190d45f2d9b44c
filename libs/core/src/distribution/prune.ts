/**
 * What a self-contained environment leaves out of the CPython it copies, as
 * paths relative to the prefix. Shared by every source, applied while copying
 * (installed) or after extraction (archives).
 */
export interface PruneOptions {
  /** "3.12" */
  minor: string;
  includeStdlibTests: boolean;
}

export function isPruned(rel: string, options: PruneOptions): boolean {
  const parts = rel.split('/');
  if (parts.includes('__pycache__')) return true; // recompiled with unchecked-hash invalidation
  if (parts[0] === 'Lib') {
    // A Windows prefix (python.exe, Lib\, DLLs\): the same rules, Windows names.
    if (parts[1] === 'site-packages' && parts.length > 2 && parts[2] !== 'README.txt') return true;
    return !options.includeStdlibTests && rel === 'Lib/test';
  }
  const lib = `lib/python${options.minor}`;
  // Third-party packages of the source install (and whatever its owner added) are not ours.
  if (rel.startsWith(`${lib}/site-packages/`) && rel !== `${lib}/site-packages/README.txt`) return true;
  if (!options.includeStdlibTests && rel === `${lib}/test`) return true;
  // Build-only leftovers carrying absolute build paths: the static library
  // (~60 MB, only for embedding) and the Makefile (sysconfig reads _sysconfigdata instead).
  if (/^lib\/python[\d.]+\/config-[^/]+\/(libpython[^/]*\.a|Makefile|python-config\.py)$/.test(rel)) return true;
  // 3.13+ writes a JSON copy of the build variables that CPython never reads at run time.
  if (new RegExp(`^${escape(lib)}/_sysconfig_vars_[^/]*\\.json$`).test(rel)) return true;
  // Scripts of the source install (pip, idle, pydoc, 2to3) hold absolute shebangs;
  // only the interpreter and its config script are kept. Packages bring their own scripts.
  if (parts[0] === 'bin' && parts.length === 2 && !/^python(\d(\.\d+)?)?(-config)?$/.test(parts[1])) return true;
  return false;
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
