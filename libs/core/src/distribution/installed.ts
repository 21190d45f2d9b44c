import { createHash } from 'node:crypto';
import { promises as fs, readFileSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { rememberSync } from '../fs/atomic';
import { copyTree } from '../fs/tree';
import { cacheDir } from '../fs/cache-dir';
import { findInterpreter, hostPlatform, InstalledPython } from '../interpreter/discover';
import { isPruned } from './prune';
import { DistributionSource, UnpackContext, UnpackedPython } from './source';

/** A CPython already installed on the build machine (pyenv, uv, PYDEPOT_PYTHON_PATH), copied. */
export class InstalledPythonSource implements DistributionSource {
  readonly kind = 'installed';
  readonly python: InstalledPython;

  constructor(
    readonly request: string,
    roots?: string[],
  ) {
    this.python = findInterpreter(request, roots);
  }

  describe(): string {
    return `installed CPython ${this.python.version} at ${this.python.prefix}`;
  }

  identity(): string {
    // Never the install path: two agents whose CPython lives in different
    // places share cache entries. A rebuilt interpreter (pyenv install
    // --force, another patch level) changes the binaries' content hash.
    const minor = this.python.version.split('.').slice(0, 2).join('.');
    const binaries = [this.python.executable, path.join(this.python.prefix, 'lib', `libpython${minor}.so.1.0`)];
    return `installed cpython-${this.python.version} ${hostPlatform()} ${binaries.map(contentFingerprint).join(',')}`;
  }

  originPaths(): string[] {
    return [...new Set([this.python.prefix, realpathSync(this.python.prefix)])];
  }

  async unpack(dest: string, context: UnpackContext): Promise<UnpackedPython> {
    const minor = this.python.version.split('.').slice(0, 2).join('.');
    context.log(`copying ${this.describe()}`);
    const prefix = await fs.realpath(this.python.prefix);
    await copyTree(prefix, dest, { filter: (rel) => !isPruned(rel, { minor, includeStdlibTests: context.includeStdlibTests }) });
    await fs.mkdir(path.join(dest, 'lib', `python${minor}`, 'site-packages'), { recursive: true });
    return {
      version: this.python.version,
      originalPrefix: prefix,
      scrubBinaries: true,
      // The source prefix stays out of the manifest: it is a build-machine path.
      source: { kind: this.kind, version: this.python.version },
    };
  }
}

/**
 * sha256 of a file's content, remembered per (real path, size, mtime) in the
 * user's cache, since Nx asks for the identity whenever it hashes a task
 * (hashing libpython takes ~50 ms; a remembered answer, a stat). "-" for a
 * missing file.
 */
function contentFingerprint(file: string): string {
  let real: string;
  let key: string;
  try {
    real = realpathSync(file);
    const st = statSync(real);
    key = createHash('sha256').update(`${real}\0${st.size}\0${st.mtimeMs}\0${st.ino}`).digest('hex').slice(0, 32);
  } catch {
    return '-';
  }
  const memo = path.join(cacheDir(), 'fingerprints-v1', key);
  try {
    return readFileSync(memo, 'utf8').trim();
  } catch {
    // not remembered yet
  }
  const digest = createHash('sha256').update(readFileSync(real)).digest('hex').slice(0, 24);
  rememberSync(memo, digest); // a read-only home: the answer is still right, just not remembered
  return digest;
}
