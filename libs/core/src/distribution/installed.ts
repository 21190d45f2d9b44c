import { promises as fs, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { copyTree } from '../fs/tree';
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
    // Version and path alone miss a rebuilt interpreter (pyenv install --force): add the binaries' fingerprint.
    const minor = this.python.version.split('.').slice(0, 2).join('.');
    const fingerprint = [this.python.executable, path.join(this.python.prefix, 'lib', `libpython${minor}.so.1.0`)]
      .map((f) => {
        try {
          const st = statSync(f);
          return `${st.size}:${Math.round(st.mtimeMs)}`;
        } catch {
          return '-';
        }
      })
      .join(',');
    return `installed cpython-${this.python.version} ${hostPlatform()} ${this.python.prefix} ${fingerprint}`;
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
