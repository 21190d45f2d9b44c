import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { siblingTempPath } from '../fs/atomic';
import { walkTree } from '../fs/tree';
import { hostPlatform, inspectPrefix } from '../interpreter/discover';
import { fetchVerified } from './download';
import { extractArchive } from './extract';
import { isPruned } from './prune';
import { DistributionSource, UnpackContext, UnpackedPython } from './source';

/**
 * A tar or zip archive by path or URL, pinned by sha256, laid out like
 * python-build-standalone's install_only archives (one top folder, usually
 * `python/`, holding bin/ lib/ include/).
 */
export class ArchiveSource implements DistributionSource {
  readonly kind = 'archive';

  constructor(
    readonly archive: string,
    readonly sha256: string,
  ) {}

  describe(): string {
    return `archive ${this.archive} (sha256 ${this.sha256.slice(0, 12)}…)`;
  }

  identity(): string {
    return `archive ${this.sha256} ${hostPlatform()}`;
  }

  originPaths(): string[] {
    return [];
  }

  async unpack(dest: string, context: UnpackContext): Promise<UnpackedPython> {
    const file = await fetchVerified(this.archive, this.sha256, context.cacheDir);
    context.log(`extracting ${this.describe()}`);
    const scratch = siblingTempPath(dest, 'extract');
    try {
      await extractArchive(file, scratch);
      const root = await findPrefixRoot(scratch, this.archive);
      const python = inspectPrefix(root)!;
      const minor = python.version.split('.').slice(0, 2).join('.');
      await fs.rename(root, dest);
      const pruned = (await walkTree(dest)).filter((e) => isPruned(e.rel, { minor, includeStdlibTests: context.includeStdlibTests }));
      for (const e of pruned.reverse()) await fs.rm(path.join(dest, e.rel), { recursive: true, force: true });
      return {
        version: python.version,
        originalPrefix: await readBuildPrefix(dest, minor),
        source: { kind: this.kind, archive: this.archive, sha256: this.sha256 },
      };
    } finally {
      await fs.rm(scratch, { recursive: true, force: true });
    }
  }
}

/**
 * The prefix the archive's interpreter was configured for, from its sysconfig
 * data (python-build-standalone: "/install"; a packed local build: its path).
 */
export async function readBuildPrefix(prefix: string, minor: string): Promise<string | undefined> {
  const lib = path.join(prefix, 'lib', `python${minor}`);
  const names = await fs.readdir(lib).catch(() => [] as string[]);
  for (const name of names.filter((n) => /^_sysconfigdata_.*\.py$/.test(n))) {
    const m = /['"]prefix['"]:\s*['"](\/[^'"]*)['"]/.exec(await fs.readFile(path.join(lib, name), 'utf8'));
    if (m && m[1] !== '/') return m[1];
  }
  return undefined;
}

/** The CPython prefix inside an extracted archive: the root itself or its single top folder. */
async function findPrefixRoot(dir: string, archive: string): Promise<string> {
  if (inspectPrefix(dir)) return dir;
  const entries = await fs.readdir(dir, { withFileTypes: true });
  for (const e of entries) if (e.isDirectory() && inspectPrefix(path.join(dir, e.name))) return path.join(dir, e.name);
  throw new PydepotError(`${archive} does not hold a CPython prefix (bin/python3.X, lib/python3.X/os.py, include/python3.X/patchlevel.h) at its root or in one top folder`, {
    path: archive,
    hint: 'use a python-build-standalone "install_only" archive or one laid out like it',
  });
}
