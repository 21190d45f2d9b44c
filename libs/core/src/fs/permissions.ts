import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { mapLimit, walkTree } from './tree';

/**
 * Modes for what is published to a share, whatever the publishing agent's
 * umask (build agents often run with 077): everything readable by everyone,
 * folders and executables also executable (searchable); with `groupWritable`,
 * writable by the group too, and folders setgid so new entries keep the
 * depot's group (a team that publishes from several accounts).
 */
export function sharedMode(kind: 'file' | 'dir', mode: number, groupWritable = false): number {
  const executable = kind === 'dir' || (mode & 0o111) !== 0;
  let m = executable ? 0o755 : 0o644;
  if (groupWritable) m |= kind === 'dir' ? 0o2070 : 0o060;
  return m;
}

/** Give every file and folder under `root` (and `root` itself) its shared mode; symlinks have none. */
export async function makeShared(root: string, groupWritable = false): Promise<void> {
  const entries = await walkTree(root);
  await mapLimit(entries, 32, async (e) => {
    if (e.kind === 'symlink') return;
    const want = sharedMode(e.kind, e.mode ?? 0, groupWritable);
    if ((e.mode ?? 0) !== want) await fs.chmod(path.join(root, e.rel), want);
  });
  await chmodShared(root, groupWritable);
}

/** One file or folder (a pointer, a log, the environment's folder): its shared mode, if it exists. */
export async function chmodShared(file: string, groupWritable = false): Promise<void> {
  const st = await fs.lstat(file).catch(() => undefined);
  if (!st || st.isSymbolicLink()) return;
  const want = sharedMode(st.isDirectory() ? 'dir' : 'file', st.mode & 0o7777, groupWritable);
  if ((st.mode & 0o7777) !== want) await fs.chmod(file, want);
}
