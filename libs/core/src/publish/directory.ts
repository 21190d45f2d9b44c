import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE } from '../environment/manifest';
import { PydepotError } from '../errors';
import { siblingTempPath, writeJsonAtomic } from '../fs/atomic';
import { copyTree, pathExists } from '../fs/tree';
import { Publisher, PublishRequest, PublishResult } from './publisher';

export const CURRENT = 'current';
export const CURRENT_FILE = 'current.json';

/**
 * Publishes into `<depot>/<env>/<version>/`. A version folder is copied into
 * a temp sibling and renamed into place, so users never see half of one; the
 * `current` pointer (a relative symlink, plus current.json for Windows shares
 * and tools) moves only after the version is complete. Versions are content
 * ids: publishing identical content again writes nothing.
 */
export class DirectoryPublisher implements Publisher {
  readonly kind = 'directory';

  constructor(readonly depot: string) {}

  async publish(request: PublishRequest): Promise<PublishResult> {
    const { manifest, log } = request;
    if (!manifest.version || !manifest.name) {
      throw new PydepotError(`${path.join(request.buildPath, MANIFEST_FILE)} has no version: the build did not finish`, {
        hint: 'run the pip-install target again',
      });
    }
    const envDir = path.join(this.depot, manifest.name);
    const versionDir = path.join(envDir, manifest.version);
    try {
      await fs.mkdir(envDir, { recursive: true });
    } catch (error) {
      throw new PydepotError(`cannot create ${envDir}: ${(error as Error).message}`, {
        path: envDir,
        hint: 'check that the depot is mounted and writable (set it with PYDEPOT_DEPOT or "publish.depot")',
      });
    }
    let copied = false;
    if (!(await pathExists(path.join(versionDir, MANIFEST_FILE)))) {
      const tmp = siblingTempPath(versionDir);
      try {
        log(`copying version ${manifest.version} to ${versionDir}`);
        await copyTree(request.buildPath, tmp);
        await fs.rename(tmp, versionDir);
        copied = true;
      } catch (error) {
        await fs.rm(tmp, { recursive: true, force: true });
        const code = (error as NodeJS.ErrnoException).code;
        // Another publisher renamed the same content id in first: theirs is identical.
        if ((code === 'EEXIST' || code === 'ENOTEMPTY') && (await pathExists(path.join(versionDir, MANIFEST_FILE)))) copied = false;
        else
          throw new PydepotError(`publishing ${manifest.name} to ${versionDir} failed: ${(error as Error).message}; the depot was left as it was`, {
            path: versionDir,
            hint: code === 'ENOSPC' ? 'the depot is full: free space or remove old versions' : 'check that the depot is writable',
          });
      }
    }
    const currentChanged = await pointCurrent(envDir, manifest.version);
    return { version: manifest.version, location: versionDir, copied, currentChanged };
  }
}

/** Move `current` to `version`; returns false when it already pointed there. */
export async function pointCurrent(envDir: string, version: string): Promise<boolean> {
  const link = path.join(envDir, CURRENT);
  const file = path.join(envDir, CURRENT_FILE);
  const linkTarget = await fs.readlink(link).catch(() => undefined);
  const recorded = await fs
    .readFile(file, 'utf8')
    .then((t) => (JSON.parse(t) as { version?: string }).version)
    .catch(() => undefined);
  if (recorded === version && (linkTarget === version || process.platform === 'win32')) return false;
  if (linkTarget !== version) {
    const tmp = siblingTempPath(link);
    try {
      await fs.symlink(version, tmp, 'dir');
      await fs.rename(tmp, link);
    } catch (error) {
      await fs.rm(tmp, { force: true });
      // Shares without symlink support keep only current.json.
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    }
  }
  await writeJsonAtomic(file, { version, path: version });
  return true;
}

export async function readCurrentVersion(envDir: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await fs.readFile(path.join(envDir, CURRENT_FILE), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
}
