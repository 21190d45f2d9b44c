import { createHash } from 'node:crypto';
import { constants, lstatSync, promises as fs } from 'node:fs';
import * as path from 'node:path';

export interface TreeEntry {
  /** Path relative to the tree root, always with forward slashes. */
  rel: string;
  kind: 'file' | 'dir' | 'symlink';
  mode: number;
  size: number;
  /** The file's identity and mtime, for reusing earlier hashes (indexTree). */
  ino?: number;
  dev?: number;
  mtimeMs?: number;
}

/** Every entry under `root`, parents before children, sorted for determinism. */
export async function walkTree(root: string, filter?: (rel: string, kind: TreeEntry['kind']) => boolean): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  async function visit(dirAbs: string, dirRel: string): Promise<void> {
    const names = (await fs.readdir(dirAbs)).sort();
    // Synchronous metadata reads: an environment has thousands of small entries, and a
    // thread-pool round trip each costs more than the lookup itself (3× slower walks).
    const stats = names.map((name) => lstatSync(path.join(dirAbs, name)));
    const subdirs: Array<[string, string]> = [];
    names.forEach((name, i) => {
      const st = stats[i];
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const kind: TreeEntry['kind'] = st.isSymbolicLink() ? 'symlink' : st.isDirectory() ? 'dir' : 'file';
      if (!st.isSymbolicLink() && !st.isDirectory() && !st.isFile()) return; // sockets, fifos: never part of an environment
      if (filter && !filter(rel, kind)) return;
      out.push({ rel, kind, mode: st.mode & 0o7777, size: st.size, ino: st.ino, dev: st.dev, mtimeMs: st.mtimeMs });
      if (kind === 'dir') subdirs.push([path.join(dirAbs, name), rel]);
    });
    for (const [abs, rel] of subdirs) await visit(abs, rel);
  }
  await visit(root, '');
  return out;
}

export interface CopyTreeOptions {
  /** Hard-link files instead of copying them (same filesystem only; falls back to copies). */
  link?: boolean;
  filter?: (rel: string, kind: TreeEntry['kind']) => boolean;
}

/** Copy a tree preserving symlinks (verbatim) and modes. `dest` must not exist. */
export async function copyTree(src: string, dest: string, options: CopyTreeOptions = {}): Promise<{ files: number; bytes: number }> {
  // A whole-tree hard-link copy is GNU cp's `cp -al`, several times faster than linking file by file from here.
  if (options.link && !options.filter && process.platform === 'linux' && (await linkTreeWithCp(src, dest))) return { files: 0, bytes: 0 };
  const entries = await walkTree(src, options.filter);
  await fs.mkdir(dest, { recursive: true });
  const rootMode = (await fs.stat(src)).mode & 0o7777;
  let link = options.link === true;
  let bytes = 0;
  let files = 0;
  for (const e of entries) if (e.kind === 'dir') await fs.mkdir(path.join(dest, e.rel), { mode: 0o700 });
  await mapLimit(
    entries.filter((e) => e.kind !== 'dir'),
    32,
    async (e) => {
      const from = path.join(src, e.rel);
      const to = path.join(dest, e.rel);
      if (e.kind === 'symlink') {
        await fs.symlink(await fs.readlink(from), to);
        return;
      }
      files++;
      if (link) {
        try {
          await fs.link(from, to);
          return;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK' && code !== 'ENOTSUP') throw error;
          link = false; // another filesystem or no hard links: copy from here on
        }
      }
      await fs.copyFile(from, to, constants.COPYFILE_FICLONE);
      await fs.chmod(to, e.mode);
      bytes += e.size;
    },
  );
  // Directory modes last, so a read-only directory does not block writing its children.
  for (const e of entries.reverse()) if (e.kind === 'dir') await fs.chmod(path.join(dest, e.rel), e.mode);
  await fs.chmod(dest, rootMode);
  return { files, bytes };
}

/** One entry of a tree's file index: what a tree holds, by content. */
export interface IndexedEntry {
  rel: string;
  kind: TreeEntry['kind'];
  /** Files: permission bits. */
  mode?: number;
  size?: number;
  sha256?: string;
  /** Symlinks: the link text. */
  target?: string;
}

/** Every entry of a tree with its content digest (files) or link text (symlinks). */
/**
 * Hashes known from an earlier tree that `root` was hard-linked from (the
 * previous build stage, with the index it wrote): a file that is still the
 * same inode as the earlier tree's file at the same path, not modified since
 * that index was written, keeps its hash without being read again. Stages
 * never write into an inherited file (they replace it through a new inode),
 * so the same inode means the same content.
 */
export interface IndexReuse {
  root: string;
  entries: IndexedEntry[];
  /** mtime (ms) of the earlier index: files modified later are hashed again. */
  writtenAt: number;
}

/**
 * `hashed`: files whose sha256 is known by their absolute path (an
 * extraction that hashed each file as it wrote it), read no more.
 */
export async function indexTree(root: string, filter?: (rel: string, kind: TreeEntry['kind']) => boolean, reuse?: IndexReuse, hashed?: Map<string, string>): Promise<IndexedEntry[]> {
  const entries = await walkTree(root, filter);
  const known = new Map((reuse?.entries ?? []).filter((e) => e.kind === 'file').map((e) => [e.rel, e]));
  return mapLimit(entries, 16, async (e): Promise<IndexedEntry> => {
    const abs = path.join(root, e.rel);
    if (e.kind === 'dir') return { rel: e.rel, kind: 'dir' };
    if (e.kind === 'symlink') return { rel: e.rel, kind: 'symlink', target: await fs.readlink(abs) };
    const earlier = known.get(e.rel);
    if (earlier && reuse && earlier.size === e.size && earlier.mode === e.mode && e.mtimeMs! <= reuse.writtenAt) {
      // One metadata lookup, synchronous: thousands of these cost less than as many thread-pool round trips.
      const then = lstatSyncOrUndefined(path.join(reuse.root, e.rel));
      if (then && e.ino === then.ino && e.dev === then.dev) return { ...earlier };
    }
    const hashedAlready = hashed?.get(abs);
    return { rel: e.rel, kind: 'file', mode: e.mode, size: e.size, sha256: hashedAlready ?? createHash('sha256').update(await fs.readFile(abs)).digest('hex') };
  });
}

/**
 * A content hash of a tree: paths, kinds, executable bits, symlink targets and
 * file contents. Mtimes and owners are left out on purpose: they differ
 * between identical builds and are lost by VCS depots anyway.
 */
export function hashIndex(index: IndexedEntry[]): string {
  const lines = index.map((e) => (e.kind === 'dir' ? `d ${e.rel}` : e.kind === 'symlink' ? `l ${e.rel} ${e.target}` : `f ${e.rel} ${e.mode! & 0o111 ? 'x' : '-'} ${e.sha256}`));
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

export async function hashTree(root: string, filter?: (rel: string, kind: TreeEntry['kind']) => boolean): Promise<string> {
  return hashIndex(await indexTree(root, filter));
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await fs.open(file, 'r');
  try {
    for await (const chunk of handle.createReadStream()) hash.update(chunk as Buffer);
  } finally {
    await handle.close().catch(() => undefined);
  }
  return hash.digest('hex');
}

export async function pathExists(p: string): Promise<boolean> {
  try {
    await fs.lstat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Run `fn` over `items` with at most `limit` in flight; results keep their
 * order. On the first failure no new item starts, and the call rejects only
 * once every item in flight has settled, so a caller cleaning up afterwards
 * (removing a half-written folder) never races a write still running.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(workers);
  if (failure) throw failure.error;
  return results;
}

/** `cp -al src/. dest`; false (and dest left empty) when cp is missing or links are impossible (another filesystem). */
async function linkTreeWithCp(src: string, dest: string): Promise<boolean> {
  const { execFile } = await import('node:child_process');
  await fs.mkdir(dest, { recursive: true });
  const ok = await new Promise<boolean>((resolve) => execFile('cp', ['-al', '--', `${src}/.`, dest], (error) => resolve(!error)));
  if (ok) return true;
  await fs.rm(dest, { recursive: true, force: true });
  return false;
}

function lstatSyncOrUndefined(file: string) {
  try {
    return lstatSync(file);
  } catch {
    return undefined;
  }
}

/** Whether `entry` (of a stage hard-linked from `previous`) is still the previous stage's file: same inode. */
export async function isInherited(previous: string, entry: TreeEntry): Promise<boolean> {
  const before = await fs.lstat(path.join(previous, entry.rel)).catch(() => undefined);
  return before !== undefined && before.ino === entry.ino && before.dev === entry.dev;
}
