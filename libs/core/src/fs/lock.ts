import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { isLivePid } from './atomic';

interface Holder {
  pid: number;
  host: string;
  startedAt: string;
}

export interface LockOptions {
  log: (message: string) => void;
  /** Give up waiting after this long (default 10 minutes). */
  timeoutMs?: number;
  /** A lock not refreshed for this long is stale (default 2 minutes; the holder refreshes it every quarter of that). */
  staleMs?: number;
}

/**
 * The same lock for any one-at-a-time job on a shared folder (a publish, the
 * rebuild of a stage's full tree from its delta): `activity` and `subject`
 * only word the messages.
 */
export async function acquireFileLock(file: string, options: LockOptions & { activity: string; subject: string }): Promise<{ release(): Promise<void> }> {
  const staleMs = options.staleMs ?? 120_000;
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  const me: Holder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
  let announced = false;
  for (;;) {
    try {
      const handle = await fs.open(file, 'wx');
      try {
        await handle.chmod(0o644); // others read who holds it, whatever this agent's umask
        await handle.writeFile(JSON.stringify(me));
        await handle.close();
      } catch (error) {
        // Created but not written (a full disk): never leave a lock nobody holds for the next run to wait out.
        await handle.close().catch(() => undefined);
        await fs.rm(file, { force: true }).catch(() => undefined);
        throw error;
      }
      const timer = setInterval(() => {
        const now = new Date();
        fs.utimes(file, now, now).catch(() => undefined);
      }, Math.max(staleMs / 4, 50));
      timer.unref();
      return {
        release: async () => {
          clearInterval(timer);
          const holder = await readHolder(file);
          if (holder?.pid === me.pid && holder.host === me.host && holder.startedAt === me.startedAt) await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
        throw new PydepotError(`cannot write ${path.dirname(file)}: ${code === 'EROFS' ? 'it is on a read-only file system' : `permission denied for ${os.userInfo().username}`} (the ${options.activity} of ${options.subject} takes a lock there)`, {
          path: path.dirname(file),
          hint: `run it as an account that may write ${path.dirname(file)} (a publishing agent's), or ask whoever owns it for write access`,
        });
      }
      if (code !== 'EEXIST') {
        throw new PydepotError(`cannot create the ${options.activity} lock ${file}: ${(error as Error).message}`, {
          path: file,
          hint: `check that ${path.dirname(file)} is mounted, writable and not full`,
        });
      }
    }
    const holder = await readHolder(file);
    const age = await fs.stat(file).then((st) => Date.now() - st.mtimeMs, () => 0);
    const dead = holder !== undefined && holder.host === me.host && !isLivePid(holder.pid);
    if (dead || age > staleMs) {
      options.log(`taking over a stale ${options.activity} lock (${describe(holder)}${dead ? ', process gone' : `, untouched for ${Math.round(age / 1000)} s`})`);
      // Rename first: of two processes taking over the same stale lock, only one wins the rename.
      const aside = `${file}.stale-${process.pid}`;
      await fs.rename(file, aside).then(() => fs.rm(aside, { force: true }), () => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new PydepotError(`another ${options.activity} of ${options.subject} is running (${describe(holder)}); gave up waiting`, {
        path: file,
        hint: `wait for it to finish; if its process is gone, delete ${file}`,
      });
    }
    if (!announced) options.log(`waiting for another ${options.activity} of ${options.subject} (${describe(holder)})`);
    announced = true;
    await new Promise((resolve) => setTimeout(resolve, 100 + Math.random() * 150));
  }
}

async function readHolder(file: string): Promise<Holder | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as Holder;
  } catch {
    return undefined; // gone, or being written: look again next round
  }
}

function describe(holder: Holder | undefined): string {
  return holder ? `pid ${holder.pid} on ${holder.host} since ${holder.startedAt}` : 'unknown holder';
}

