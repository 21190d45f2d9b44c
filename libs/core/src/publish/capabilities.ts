import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { siblingTempPath } from '../fs/atomic';

/**
 * What the depot's filesystem can do, probed once per publish in the
 * environment's own folder (a share mounted through SMB, NFS or FUSE may lack
 * any of it, and says so with EPERM, ENOSYS, EIO or nothing at all):
 *
 * - `symlinks`: the `current` link and an environment's internal links
 *   (`bin/python` → `python3.12`); without them, `current.json` alone and
 *   copies of the link targets;
 * - `hardLinks`: the content store (`.objects/`); without them, copies;
 * - `renameOver`: replacing a pointer atomically; without it, remove then rename;
 * - `executableBits`: a file keeps the mode it is given (mount options such
 *   as SMB's file_mode or rclone's --file-perms decide otherwise);
 * - `caseSensitive`: `Tool.py` and `tool.py` are two files.
 */
export interface DepotCapabilities {
  symlinks: boolean;
  hardLinks: boolean;
  renameOver: boolean;
  executableBits: boolean;
  caseSensitive: boolean;
}

export async function probeCapabilities(dir: string): Promise<DepotCapabilities> {
  const probe = siblingTempPath(path.join(dir, 'probe'), 'probe');
  await fs.mkdir(probe);
  const at = (name: string) => path.join(probe, name);
  const attempt = async (step: () => Promise<unknown>) =>
    step().then(
      () => true,
      () => false,
    );
  try {
    await fs.writeFile(at('file'), 'x');
    const symlinks = (await attempt(() => fs.symlink('file', at('link')))) && (await attempt(async () => (await fs.readlink(at('link'))) === 'file' || Promise.reject()));
    const hardLinks = (await attempt(() => fs.link(at('file'), at('hard')))) && (await fs.stat(at('file'))).nlink > 1;
    await fs.writeFile(at('other'), 'y');
    const renameOver = (await attempt(() => fs.rename(at('other'), at('file')))) && (await fs.readFile(at('file'), 'utf8')) === 'y';
    await fs.writeFile(at('exe'), '#!/bin/sh\n');
    await attempt(() => fs.chmod(at('exe'), 0o755));
    const executableBits = process.platform === 'win32' || ((await fs.stat(at('exe'))).mode & 0o111) === 0o111;
    await fs.writeFile(at('Case'), 'z');
    const caseSensitive = !(await attempt(() => fs.access(at('cASE'))));
    return { symlinks, hardLinks, renameOver, executableBits, caseSensitive };
  } finally {
    await fs.rm(probe, { recursive: true, force: true });
  }
}

/** "symlinks, hard links": what a depot lacks, for messages. */
export function describeMissing(caps: DepotCapabilities): string {
  const names: Record<keyof DepotCapabilities, string> = {
    symlinks: 'symlinks',
    hardLinks: 'hard links',
    renameOver: 'rename over an existing file',
    executableBits: 'executable bits',
    caseSensitive: 'case-sensitive names',
  };
  return (Object.keys(names) as Array<keyof DepotCapabilities>)
    .filter((k) => !caps[k])
    .map((k) => names[k])
    .join(', ');
}
