import * as path from 'node:path';
import { acquireFileLock, LockOptions } from '../fs/lock';

export const LOCK_FILE = '.pydepot-publish.lock';

/**
 * One publisher at a time per environment, across processes and machines
 * sharing the depot: `<env>/.pydepot-publish.lock`, created exclusively
 * (O_EXCL, which network filesystems honour), holding who took it. The holder
 * touches it regularly; a lock whose holder is a dead process on this host,
 * or that nobody touched for `staleMs`, is stale and taken over.
 */
export async function acquirePublishLock(envDir: string, options: LockOptions): Promise<{ release(): Promise<void> }> {
  return acquireFileLock(path.join(envDir, LOCK_FILE), { ...options, activity: 'publish', subject: path.basename(envDir) });
}

/**
 * One writer at a time per runtime of a depot (`_runtimes/.pydepot-publish-<id>.lock`),
 * so environments on different runtimes fetch and write theirs side by side;
 * collection takes the lock of each runtime it removes.
 */
export async function acquireRuntimeLock(runtimes: string, id: string, options: LockOptions): Promise<{ release(): Promise<void> }> {
  return acquireFileLock(path.join(runtimes, `.pydepot-publish-${id}.lock`), { ...options, activity: 'publish', subject: `runtime ${id}` });
}
