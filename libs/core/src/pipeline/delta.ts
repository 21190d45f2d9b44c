import { createHash } from 'node:crypto';
import { existsSync, lstatSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FILES_INDEX, METADATA_FILES } from '../environment/manifest';
import { PydepotError } from '../errors';
import { acquireFileLock } from '../fs/lock';
import { buildDirectoryAtomically, writeJsonAtomic } from '../fs/atomic';
import { copyTree, walkTree } from '../fs/tree';

/*
 * Stage outputs as deltas. A build stage (ensurepip, venv, install) leaves
 * its full tree at <stage> for the next stage to hard-link, and a delta at
 * <stage>.delta: the files it added or replaced, what it deleted, and which
 * tree it started from. Only the delta is the Nx output, so the cache stores
 * (and a fully cached run restores, and a remote cache moves) the
 * interpreter once per environment plus small deltas, instead of one full
 * ~100 MB tree per stage. Whoever reads a stage calls materializeStage: it
 * returns the full tree, rebuilding it from the previous stage's (itself
 * materialized first) plus the delta when it is missing or is not the tree
 * the delta produces (a cache hit restored only the delta). Stages never
 * write into an inherited file (they replace it through a new inode), so
 * "added or replaced" is "a different inode than in the previous tree".
 *
 * A delta is three kinds of file, whatever the number of files a stage
 * wrote: delta.json, the metadata files at the tree's root (the manifest,
 * which other tasks hash as an input, the index, the SBOM) as plain files
 * under files/, and every other file's content concatenated in files.pack,
 * in delta.json's order. Nx restores a cache hit by removing and copying
 * each output file (always, without its daemon), so a stage of thousands
 * of files restores as one copy, not thousands.
 */
const DELTA_FILE = 'delta.json';
const FILES_DIR = 'files';
const PACK_FILE = 'files.pack';
const SUFFIX = '.delta';
/** Pack reads and writes, in chunks of at most this. */
const CHUNK = 1 << 20;

interface Delta {
  schemaVersion: 1;
  /** The tree this stage started from, relative to the folder holding the delta; null: an empty tree (a stage that starts from nothing). */
  previous: string | null;
  /** treeId of the full tree the delta produces. */
  result: string;
  deletions: string[];
  dirs: Array<{ rel: string; mode: number }>;
  symlinks: Array<{ rel: string; target: string }>;
  /** The files in files.pack, in order (each starts where the one before ended). */
  packed?: PackedFile[];
}

interface PackedFile {
  rel: string;
  mode: number;
  size: number;
}

/**
 * The stage protocol every build stage follows: its input stage's full tree
 * (materialized from its delta when a cache hit restored only that), the
 * stage's work on it, then the output recorded as a delta over the input
 * (`delta`; the Nx output), or no stale delta beside a full output.
 */
export async function runStage<T>(options: { input?: string; output: string; delta?: boolean; provide?: (tree: string) => Promise<unknown> }, work: (input: string | undefined) => Promise<T>): Promise<T> {
  const input = options.input === undefined ? undefined : await materializeStage(options.input, [], options.provide);
  const result = await work(input);
  // A stage that starts from nothing (a shared-layout venv) records a delta over an empty tree: a stage's Nx output is the same whatever its layout.
  if (options.delta) await writeStageDelta(options.output, input);
  else await fs.rm(deltaPath(options.output), { recursive: true, force: true });
  return result;
}

export function deltaPath(stage: string): string {
  return `${stage}${SUFFIX}`;
}

/** Record what `stage` changed relative to `previous` (both full trees) in `<stage>.delta`. */
export async function writeStageDelta(stage: string, previous: string | undefined): Promise<{ files: number; deletions: number }> {
  const [now, before] = await Promise.all([walkTree(stage), previous === undefined ? [] : walkTree(previous)]);
  const old = new Map(before.map((e) => [e.rel, e]));
  const delta: Delta = { schemaVersion: 1, previous: previous === undefined ? null : path.relative(path.dirname(stage), previous).split(path.sep).join('/'), result: await treeId(stage), deletions: [], dirs: [], symlinks: [] };
  const files: string[] = [];
  for (const e of now) {
    const was = old.get(e.rel);
    if (e.kind === 'dir') {
      if (!was || was.kind !== 'dir' || was.mode !== e.mode) delta.dirs.push({ rel: e.rel, mode: e.mode });
    } else if (e.kind === 'symlink') {
      const target = await fs.readlink(path.join(stage, e.rel));
      if (!was || was.kind !== 'symlink' || (await fs.readlink(path.join(previous!, e.rel))) !== target) delta.symlinks.push({ rel: e.rel, target });
    } else if (!was || was.kind !== 'file' || was.ino !== e.ino || was.dev !== e.dev) files.push(e.rel);
  }
  const kinds = new Map(now.map((e) => [e.rel, e.kind]));
  for (const e of before) {
    // Only the topmost missing path: deleting a folder deletes what is in it.
    if (!kinds.has(e.rel) && !isUnderAny(e.rel, delta.deletions)) delta.deletions.push(e.rel);
  }
  // A path whose kind changed (file ↔ dir ↔ symlink) is deleted first, then written.
  for (const e of before) if (kinds.has(e.rel) && kinds.get(e.rel) !== e.kind) delta.deletions.push(e.rel);
  await buildDirectoryAtomically(deltaPath(stage), async (tmp) => {
    await fs.mkdir(path.join(tmp, FILES_DIR), { recursive: true });
    for (const rel of files.filter((f) => METADATA_FILES.has(f))) await linkOrCopy(path.join(stage, rel), path.join(tmp, FILES_DIR, rel));
    delta.packed = await writePack(stage, files.filter((f) => !METADATA_FILES.has(f)), path.join(tmp, PACK_FILE));
    await writeJsonAtomic(path.join(tmp, DELTA_FILE), delta);
  });
  return { files: files.length, deletions: delta.deletions.length };
}

/**
 * The full tree of a stage, ready to read: as it is when it has no delta
 * (the first stage, or executors configured by hand with full outputs) or
 * already is what its delta produces; otherwise rebuilt, atomically.
 */
export async function materializeStage(stage: string, seen: string[] = [], provide?: (tree: string) => Promise<unknown>): Promise<string> {
  const dir = deltaPath(stage);
  if (!existsSync(path.join(dir, DELTA_FILE))) {
    // A tree with no delta that is not there (a runtime whose store lacks it): whoever can, provides it.
    if (provide && !existsSync(stage)) await provide(stage);
    return stage;
  }
  const delta = JSON.parse(await fs.readFile(path.join(dir, DELTA_FILE), 'utf8')) as Delta;
  if ((await treeId(stage).catch(() => undefined)) === delta.result) return stage;
  const previous = delta.previous === null ? undefined : path.resolve(path.dirname(stage), delta.previous);
  if (previous !== undefined && seen.includes(previous)) throw new PydepotError(`stage deltas form a cycle at ${previous}`, { path: dir, hint: 'delete the build folder (dist/pydepot) and build again' });
  if (previous !== undefined) await materializeStage(previous, [...seen, stage], provide);
  // Two tasks may need the same tree at once (an environment's publish and another built on it):
  // one rebuilds, the other waits and then finds it up to date.
  const lock = await acquireFileLock(`${stage}.lock`, { activity: 'rebuild', subject: stage, log: () => undefined, staleMs: 30_000 });
  try {
    if ((await treeId(stage).catch(() => undefined)) !== delta.result) await rebuild(stage, previous, dir, delta);
  } finally {
    await lock.release();
  }
  return stage;
}

async function rebuild(stage: string, previous: string | undefined, dir: string, delta: Delta): Promise<void> {
  await buildDirectoryAtomically(stage, async (tmp) => {
    if (previous !== undefined) await copyTree(previous, tmp, { link: true });
    for (const rel of delta.deletions) await fs.rm(path.join(tmp, rel), { recursive: true, force: true });
    for (const { rel } of delta.dirs) await fs.mkdir(path.join(tmp, rel), { recursive: true });
    for (const e of await walkTree(path.join(dir, FILES_DIR))) {
      if (e.kind === 'dir') continue;
      const to = path.join(tmp, e.rel);
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.rm(to, { force: true });
      await linkOrCopy(path.join(dir, FILES_DIR, e.rel), to);
    }
    await readPack(path.join(dir, PACK_FILE), delta.packed ?? [], tmp);
    for (const { rel, target } of delta.symlinks) {
      await fs.rm(path.join(tmp, rel), { force: true });
      await fs.symlink(target, path.join(tmp, rel));
    }
    for (const { rel, mode } of [...delta.dirs].reverse()) await fs.chmod(path.join(tmp, rel), mode);
  });
  const rebuilt = await treeId(stage);
  if (rebuilt !== delta.result) {
    throw new PydepotError(`rebuilding ${stage} from its delta gave content ${rebuilt.slice(0, 16)}, expected ${delta.result.slice(0, 16)}`, {
      path: dir,
      hint: 'the build folder is inconsistent: delete it (dist/pydepot) and build again',
    });
  }
}

/**
 * What identifies a full stage tree: its content hash (from the file index
 * every stage writes) and its metadata files, which the content hash leaves
 * out (a changed description changes only the manifest).
 */
async function treeId(stage: string): Promise<string> {
  const index = JSON.parse(await fs.readFile(path.join(stage, FILES_INDEX), 'utf8')) as { contentHash: string };
  const hash = createHash('sha256').update(index.contentHash);
  for (const name of [...METADATA_FILES].filter((n) => n !== FILES_INDEX).sort()) {
    hash.update(`\0${name}\0`);
    hash.update(await fs.readFile(path.join(stage, name)).catch(() => Buffer.from('-')));
  }
  return hash.digest('hex');
}

/** Every file's content, in order, into one pack; returns what delta.json records of them. */
async function writePack(root: string, rels: string[], pack: string): Promise<PackedFile[]> {
  const out = await fs.open(pack, 'wx', 0o644);
  const packed: PackedFile[] = [];
  try {
    for (const rel of rels) {
      const from = path.join(root, rel);
      const input = await fs.open(from, 'r');
      try {
        const st = await input.stat();
        let copied = 0;
        const buffer = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(st.size, 1)));
        for (;;) {
          const { bytesRead } = await input.read(buffer, 0, buffer.length, null);
          if (bytesRead === 0) break;
          await out.write(buffer, 0, bytesRead);
          copied += bytesRead;
        }
        if (copied !== st.size) throw new PydepotError(`${from} changed while its stage was recorded (${copied} bytes read, ${st.size} expected)`, { path: from, hint: 'run the target again' });
        packed.push({ rel, mode: st.mode & 0o7777, size: copied });
      } finally {
        await input.close();
      }
    }
    await out.sync();
  } finally {
    await out.close();
  }
  return packed;
}

/** The pack's files into `root` (each path checked: relative, inside, no `..`), at their modes. */
async function readPack(pack: string, files: PackedFile[], root: string): Promise<void> {
  if (files.length === 0) return;
  const input = await fs.open(pack, 'r');
  try {
    let position = 0;
    const buffer = Buffer.allocUnsafe(Math.min(CHUNK, files.reduce((m, f) => Math.max(m, f.size), 1)));
    for (const { rel, mode, size } of files) {
      if (typeof rel !== 'string' || !Number.isSafeInteger(size) || size < 0 || path.isAbsolute(rel) || rel.split(/[\\/]/).some((part) => part === '..' || part === '') || rel.includes('\0')) {
        throw new PydepotError(`the stage delta ${pack} names a file it may not write: ${JSON.stringify(rel)}`, { path: pack, hint: 'delete the build folder (dist/pydepot) and build again' });
      }
      const to = path.join(root, rel);
      await fs.mkdir(path.dirname(to), { recursive: true });
      await fs.rm(to, { force: true });
      const output = await fs.open(to, 'wx', 0o600);
      try {
        for (let left = size; left > 0; ) {
          const { bytesRead } = await input.read(buffer, 0, Math.min(buffer.length, left), position);
          if (bytesRead === 0) throw new PydepotError(`the stage delta ${pack} ends before ${rel} (${size - left} of ${size} bytes)`, { path: pack, hint: 'delete the build folder (dist/pydepot) and build again' });
          await output.write(buffer, 0, bytesRead);
          position += bytesRead;
          left -= bytesRead;
        }
        await output.chmod(mode & 0o7777);
      } finally {
        await output.close();
      }
    }
  } finally {
    await input.close();
  }
}

async function linkOrCopy(from: string, to: string): Promise<void> {
  try {
    await fs.link(from, to);
  } catch {
    await fs.copyFile(from, to);
    await fs.chmod(to, lstatSync(from).mode & 0o7777);
  }
}

function isUnderAny(rel: string, roots: string[]): boolean {
  return roots.some((r) => rel.startsWith(`${r}/`));
}
