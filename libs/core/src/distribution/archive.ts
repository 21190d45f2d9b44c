import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { siblingTempPath } from '../fs/atomic';
import { walkTree } from '../fs/tree';
import { hostPlatform, inspectPrefix } from '../interpreter/discover';
import { fetchVerified } from '../download/download';
import { extractArchive } from '../extract/extract';
import { isPruned } from './prune';
import { DistributionSource, UnpackContext, UnpackedPython } from './source';

/**
 * A tar or zip archive by path or URL, pinned by sha256, laid out like
 * python-build-standalone's install_only archives (one top folder, usually
 * `python/`, holding bin/ lib/ include/).
 */
export class ArchiveSource implements DistributionSource {
  constructor(
    readonly archive: string,
    readonly sha256: string,
    readonly kind: string = 'archive',
  ) {}

  describe(): string {
    return `${this.kind} ${this.archive} (sha256 ${this.sha256.slice(0, 12)}…)`;
  }

  identity(): string {
    return `${this.kind} ${this.sha256} ${hostPlatform()}`;
  }

  originPaths(): string[] {
    return [];
  }

  async unpack(dest: string, context: UnpackContext): Promise<UnpackedPython> {
    const file = await fetchVerified(this.archive, this.sha256, context.cacheDir, { log: context.log, offline: context.offline });
    context.log(`extracting ${this.describe()}`);
    return unpackPythonArchive(file, this.archive, dest, context, { kind: this.kind, archive: recordedName(this.archive), sha256: this.sha256 });
  }
}

/** What the manifest records of an archive: a URL as it is, a local path by file name only (it is a build-machine path). */
export function recordedName(archive: string): string {
  return /^https?:\/\//i.test(archive) ? archive : path.basename(archive.replace(/^file:\/\//, ''));
}

/** NuGet's flat-container layout: `<feed>/<id>/<version>/<id>.<version>.nupkg`. */
export const NUGET_FEED = 'https://api.nuget.org/v3-flatcontainer';

/**
 * The official NuGet `python` package (or `pythonx86`, `pythonarm64`): a zip
 * whose CPython lives under `tools/`, by version from a feed (nuget.org or a
 * studio's own, `PYDEPOT_NUGET_FEED`), pinned by sha256.
 */
export function nugetSource(options: { version: string; sha256: string; package?: string; feed?: string }, env: NodeJS.ProcessEnv = process.env): ArchiveSource {
  const id = (options.package ?? 'python').toLowerCase();
  const feed = (options.feed || env.PYDEPOT_NUGET_FEED || NUGET_FEED).replace(/\/+$/, '');
  return new ArchiveSource(`${feed}/${id}/${options.version}/${id}.${options.version}.nupkg`, options.sha256, 'nuget');
}

/**
 * Extract a verified archive holding a CPython prefix into `dest`.
 */
export function unpackPythonArchive(file: string, shownAs: string, dest: string, context: UnpackContext, source: UnpackedPython['source']): Promise<UnpackedPython> {
  return unpackPythonTree((scratch) => extractArchive(file, scratch), shownAs, dest, context, source);
}

/**
 * The shared tail of every file-shaped source: `extract` fills a scratch
 * folder beside `dest`; the CPython prefix found in it (at its root, in its
 * top folder, under NuGet's tools/, or deeper in an MSI's tree) is renamed
 * to `dest`, without what self-contained environments never carry.
 */
export async function unpackPythonTree(
  extract: (scratch: string) => Promise<void>,
  shownAs: string,
  dest: string,
  context: UnpackContext,
  source: UnpackedPython['source'],
): Promise<UnpackedPython> {
  const scratch = siblingTempPath(dest, 'extract');
  try {
    await extract(scratch);
    const root = await findPrefixRoot(scratch, shownAs);
    const python = inspectPrefix(root)!;
    const minor = python.version.split('.').slice(0, 2).join('.');
    await fs.rename(root, dest);
    const pruned = (await walkTree(dest)).filter((e) => isPruned(e.rel, { minor, includeStdlibTests: context.includeStdlibTests }));
    for (const e of pruned.reverse()) await fs.rm(path.join(dest, e.rel), { recursive: true, force: true });
    const originalPrefix = python.os === 'posix' ? await readBuildPrefix(dest, minor) : undefined;
    // A specific build prefix (a packed local build: /opt/python/3.12.1) is also scrubbed from
    // binaries; a generic one (python-build-standalone's "/install") is left alone, because
    // overwriting every "/install" byte string could corrupt unrelated strings.
    const scrubBinaries = originalPrefix !== undefined && originalPrefix.split('/').filter(Boolean).length >= 2;
    return { version: python.version, os: python.os, originalPrefix, scrubBinaries, source };
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
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

/**
 * The CPython prefix inside an extracted tree: the root itself, its top folder
 * (python-build-standalone's `python/`, NuGet's `tools/`), or deeper (an MSI's TARGETDIR).
 */
export async function findPrefixRoot(dir: string, shownAs: string): Promise<string> {
  // Breadth first, three levels deep: root, python/, tools/, an MSI's "Python312/" or "PFiles/Python312/".
  let level = [dir];
  for (let depth = 0; depth <= 3 && level.length; depth++) {
    const found = level.find((c) => inspectPrefix(c));
    if (found) return found;
    const next: string[] = [];
    for (const d of level) {
      for (const e of await fs.readdir(d, { withFileTypes: true }).catch(() => [])) if (e.isDirectory()) next.push(path.join(d, e.name));
    }
    level = next.sort();
  }
  throw new PydepotError(
    `${shownAs} does not hold a CPython prefix (bin/python3.X, lib/python3.X/os.py, include/python3.X/patchlevel.h; or python.exe, Lib/os.py, include/patchlevel.h) in its first three folder levels`,
    { path: shownAs, hint: 'use a python-build-standalone "install_only" archive, the NuGet "python" package, a CPython MSI, or an archive laid out like them' },
  );
}
