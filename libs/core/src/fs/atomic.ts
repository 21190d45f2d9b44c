import { randomBytes } from 'node:crypto';
import { mkdirSync, promises as fs, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** A unique sibling path of `target`, on the same filesystem so rename is atomic. */
export function siblingTempPath(target: string, tag = 'tmp'): string {
  const dir = path.dirname(target);
  return path.join(dir, `.${path.basename(target)}.${tag}-${process.pid}-${randomBytes(3).toString('hex')}`);
}

/**
 * Remember something in a cache file, atomically, if the folder can be
 * written: true when it was. For answers that are still right when they
 * cannot be remembered (a read-only home or node_modules).
 */
export function rememberSync(file: string, data: string): boolean {
  const tmp = siblingTempPath(file);
  try {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(tmp, data);
    renameSync(tmp, file);
    return true;
  } catch {
    rmSync(tmp, { force: true });
    return false;
  }
}

/**
 * Write a file so readers see the old or the new content, never a partial
 * one. A `mode` is set exactly (not filtered by the umask) before the file
 * appears: a pointer on a share must be readable by everyone from its first
 * instant, also when the publishing agent runs with umask 077.
 */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode?: number): Promise<void> {
  await fs.mkdir(path.dirname(file), { recursive: true });
  const tmp = siblingTempPath(file);
  try {
    await fs.writeFile(tmp, data, mode === undefined ? undefined : { mode });
    if (mode !== undefined) await fs.chmod(tmp, mode);
    await fs.rename(tmp, file).catch(async (error: NodeJS.ErrnoException) => {
      // A share that cannot rename over an existing file (some SMB and FUSE
      // mounts): remove, then rename. Readers may miss the file for that instant.
      const st = await fs.lstat(file).catch(() => undefined);
      if (!st?.isFile()) throw error;
      await fs.rm(file, { force: true });
      await fs.rename(tmp, file);
    });
  } catch (error) {
    await fs.rm(tmp, { force: true });
    throw error;
  }
}

export async function writeJsonAtomic(file: string, value: unknown, mode?: number): Promise<void> {
  await writeFileAtomic(file, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/**
 * Build a directory in a temp sibling and move it into `target` only when
 * `build` succeeds. A failure leaves `target` as it was and removes the temp.
 * An existing `target` is moved aside first and deleted after the swap, so
 * the window without a `target` is two renames long.
 */
export async function buildDirectoryAtomically<T>(target: string, build: (tmp: string) => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(target), { recursive: true });
  await removeStaleSiblings(target);
  const tmp = siblingTempPath(target);
  let result: T;
  try {
    result = await build(tmp);
  } catch (error) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw error;
  }
  const old = siblingTempPath(target, 'old');
  let moved = false;
  try {
    await fs.rename(target, old);
    moved = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await fs.rename(tmp, target);
  if (moved) await fs.rm(old, { recursive: true, force: true });
  return result;
}

/** Temp siblings left by a killed run of a previous build (never by a live one: pid differs). */
async function removeStaleSiblings(target: string): Promise<void> {
  const dir = path.dirname(target);
  const prefix = `.${path.basename(target)}.`;
  let entries: string[];
  try {
    entries = await fs.readdir(dir);
  } catch {
    return;
  }
  await Promise.all(
    entries
      .filter((name) => name.startsWith(prefix) && /\.(tmp|old)-\d+-[0-9a-f]{6}$/.test(name))
      .filter((name) => !isLivePid(Number(/-(\d+)-[0-9a-f]{6}$/.exec(name)![1])))
      .map((name) => fs.rm(path.join(dir, name), { recursive: true, force: true })),
  );
}

export function isLivePid(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
