import { constants, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { FILES_INDEX, MANIFEST_FILE, METADATA_FILES, readManifest, SBOM_FILE } from '../environment/manifest';
import { PydepotError } from '../errors';
import { siblingTempPath, writeJsonAtomic } from '../fs/atomic';
import { IndexedEntry, indexTree, mapLimit, pathExists, walkTree } from '../fs/tree';
import { checkpoint } from './faults';
import { POINTER_MODE, readReleases, recordRelease, releaseFor } from './history';
import { chmodShared, makeShared } from '../fs/permissions';
import { DepotCapabilities, describeMissing, probeCapabilities } from './capabilities';
import { refreshStableScripts } from './stable-path';
import { acquirePublishLock, acquireRuntimeLock } from './lock';
import { RUNTIMES_DIR } from '../environment/layout';
import { run } from '../process/run';
import { checkTreeIntegrity, describeProblems, readFileIndex } from '../environment/integrity';
import { CURRENT, CURRENT_FILE, currentIntact, isCurrent as currentIs, readCurrentVersion } from './current-state';

export { CURRENT, CURRENT_FILE, readCurrentVersion };
import { ProcessError } from '../errors';
import { assertFinished, LocalTree, passGate, Publisher, PublishRequest, PublishResult, RollbackRequest } from './publisher';


export interface DirectoryPublisherOptions {
  /** Keep this many most recent versions (plus whatever `current` is); default: keep all. */
  keep?: number;
  /**
   * The grace period of retention, in days (default 7): a version beyond the
   * `keep` newest is deleted only once it has not been current for this long,
   * since artists may still be running it (a share cannot tell who does).
   */
  keepDays?: number;
  /** Published folders and files group-writable (folders setgid), for a depot several accounts publish to. */
  groupWritable?: boolean;
  /** Lock timing (tests shorten it). */
  lock?: { timeoutMs?: number; staleMs?: number };
}

/**
 * Publishes into `<depot>/<env>/<version>/` (a network share; the default
 * publisher):
 *
 * - one publisher at a time per environment (a lock file with stale-lock
 *   takeover), so concurrent CI agents queue instead of corrupting the depot;
 * - a version is assembled in a temp sibling and renamed into place, so users
 *   never see half of one; its files are hard links into the environment's
 *   content store (`.objects/`, one file per distinct content), so a new
 *   version writes only content no earlier version had (copies where the
 *   share cannot hard-link);
 * - `current` (a relative symlink, plus current.json for Windows shares and
 *   tools) moves only after the version is complete; running processes keep
 *   the version they started with, because versions are never modified;
 * - releases.json and CHANGELOG.md record every publish and rollback with the
 *   packages added, removed and upgraded; retention keeps the N newest
 *   versions and never the one `current` points at.
 *
 * Versions are content ids: publishing identical content again writes nothing.
 */
export class DirectoryPublisher implements Publisher {
  readonly kind = 'directory';

  constructor(
    readonly depot: string,
    readonly options: DirectoryPublisherOptions = {},
  ) {}

  async publish(request: PublishRequest): Promise<PublishResult> {
    assertFinished(request);
    const { manifest, log } = request;
    const envDir = await this.envDir(manifest.name);
    const versionDir = path.join(envDir, manifest.version);
    // Already published and current, and no publish (live or killed) in the way:
    // answer without taking the lock, so an unchanged re-publish writes nothing
    // at all to the depot, not even a lock file.
    // The runtime is checked quickly (sizes) even then: publishing again is how a damaged runtime is repaired.
    // (current-state.ts: the same reading the plugin hashes into the publish task, so a cached publish means this answer.)
    if ((await currentIntact(envDir, this.depot))?.version === manifest.version) {
      return { version: manifest.version, location: versionDir, copied: false, currentChanged: false, bytesWritten: 0, filesLinked: 0, filesCopied: 0, removed: [] };
    }
    const lock = await acquirePublishLock(envDir, { log, ...this.options.lock });
    let hold: (() => Promise<void>) | undefined;
    try {
      checkpoint('locked');
      const interrupted = await removeLeftovers(envDir);
      const caps = await this.capabilities(envDir, log);
      const before = await readCurrentVersion(envDir);
      let copied = false;
      // Layout "shared": its runtime first, once for the whole depot.
      const runtime = await this.publishRuntime(request, versionDir, caps);
      hold = runtime.release;
      let stats = runtime.stats;
      if (!(await pathExists(path.join(versionDir, MANIFEST_FILE)))) {
        const tmp = siblingTempPath(versionDir);
        try {
          log(`writing version ${manifest.version} to ${versionDir}`);
          const index = await readIndex(request.buildPath);
          const version = await assembleVersion(request.buildPath, index, tmp, this.objects, caps);
          stats = { bytes: stats.bytes + version.bytes, linked: stats.linked + version.linked, copied: stats.copied + version.copied };
          // Readable (and executable) by every user, whatever this agent's umask.
          await makeShared(tmp, this.options.groupWritable);
          checkpoint('assembled');
          await fs.rename(tmp, versionDir);
          checkpoint('renamed');
          copied = true;
          // Caching filesystems (FUSE mounts with write-back caches) have lost files in a rename: check before anything can go live.
          await assertComplete(versionDir, index);
        } catch (error) {
          await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
          if (copied) await retire(envDir, manifest.version).catch(() => undefined);
          await this.collectGarbage(envDir).catch(() => undefined);
          const output = childOutput(error);
          throw new PydepotError(`publishing ${manifest.name} to ${versionDir} failed: ${(error as Error).message}${output}; the depot was left as it was`, {
            path: versionDir,
            hint:
              (error as NodeJS.ErrnoException).code === 'ENOSPC' || /No space left/.test(output)
                ? 'the depot is full: free space or lower "keep" to remove old versions'
                : ((error as PydepotError).hint ?? `check that the depot is writable (${(error as NodeJS.ErrnoException).code ?? 'see the message'})`),
          });
        }
      }
      if (!(await isCurrent(envDir, manifest.version, caps))) {
        try {
          await passGate(request, versionDir, manifest.name, manifest.version, before);
        } catch (error) {
          // A version that failed its checks is not kept where a rollback could pick it.
          if (copied) await retire(envDir, manifest.version);
          await this.collectGarbage(envDir).catch(() => undefined);
          throw error;
        }
      }
      const currentChanged = await pointCurrent(envDir, manifest.version, caps);
      await refreshStableScripts(envDir, manifest.version, log, this.options.groupWritable);
      // Also when a killed publish moved current but did not get to log it.
      const last = (await readReleases(envDir)).at(-1)?.version;
      if (currentChanged || last !== manifest.version) {
        const previous = before && before !== manifest.version ? before : last;
        const previousManifest = previous ? await readManifest(path.join(envDir, previous)).catch(() => undefined) : undefined;
        await recordRelease(envDir, releaseFor(manifest, previousManifest, 'publish'), manifest.name);
        checkpoint('recorded');
      }
      const removed = await this.applyRetention(envDir, manifest.version, log);
      // Runtimes no kept version runs on, then objects only a deleted or never-finished version used.
      if (removed.length) await this.collectRuntimes(log);
      if (removed.length || interrupted) await this.collectGarbage(envDir);
      return { version: manifest.version, location: versionDir, copied, currentChanged, bytesWritten: stats.bytes, filesLinked: stats.linked, filesCopied: stats.copied, removed };
    } finally {
      await hold?.();
      await lock.release();
    }
  }

  /** Point `current` back at an earlier version (default: the one before the current one). */
  async rollback(request: RollbackRequest): Promise<PublishResult> {
    const envDir = path.join(this.depot, request.name);
    const versions = await listVersions(envDir);
    if (versions.length === 0) throw new PydepotError(`${request.name} has no versions in ${this.depot}`, { path: envDir, hint: `publish it first: nx run ${request.name}:publish` });
    const lock = await acquirePublishLock(envDir, { log: request.log, ...this.options.lock });
    try {
      const current = await readCurrentVersion(envDir);
      const target = request.to ?? (await previousVersion(envDir, current));
      if (!target || !versions.includes(target)) {
        throw new PydepotError(`cannot roll ${request.name} back to ${target ?? '(no earlier version)'}: the depot has ${versions.join(', ')}`, {
          path: envDir,
          hint: 'name one of those versions (nx run <env>:rollback --to=<version>)',
        });
      }
      const runtime = (await readManifest(path.join(envDir, target))).runtime;
      if (runtime && !(await pathExists(path.join(path.resolve(envDir, target, runtime.path), MANIFEST_FILE)))) {
        throw new PydepotError(`cannot roll ${request.name} back to ${target}: the runtime it runs on (${runtime.id}) is not in ${path.join(this.depot, RUNTIMES_DIR)}`, {
          path: path.join(envDir, target),
          hint: 'a runtime stays while any kept version uses it; this depot was changed by hand: publish that version again from its commit',
        });
      }
      const currentChanged = await pointCurrent(envDir, target, await this.capabilities(envDir, request.log));
      await refreshStableScripts(envDir, target, request.log, this.options.groupWritable);
      if (currentChanged) {
        const manifest = await readManifest(path.join(envDir, target));
        const from = current ? await readManifest(path.join(envDir, current)).catch(() => undefined) : undefined;
        await recordRelease(envDir, releaseFor(manifest, from, 'rollback'), request.name);
      }
      return { version: target, location: path.join(envDir, target), copied: false, currentChanged, bytesWritten: 0, filesLinked: 0, filesCopied: 0, removed: [] };
    } finally {
      await lock.release();
    }
  }

  async checkout(name: string, version?: string): Promise<LocalTree> {
    const envDir = path.join(this.depot, name);
    const chosen = version ?? (await readCurrentVersion(envDir));
    if (!version) {
      // The two pointers must agree: POSIX users start through the link, Windows users and tools read current.json.
      const link = await fs.readlink(path.join(envDir, CURRENT)).catch(() => undefined);
      if (link !== undefined && chosen !== undefined && link !== chosen) {
        throw new PydepotError(`${name}'s two current pointers disagree: ${path.join(envDir, CURRENT)} → ${link}, ${path.join(envDir, CURRENT_FILE)} names ${chosen} (a publish or rollback was cut short)`, {
          path: envDir,
          hint: `make one current again: nx run ${name}:rollback --to=<version> (either of the two), or publish; both pointers are then rewritten`,
        });
      }
    }
    const location = chosen ? path.join(envDir, chosen) : envDir;
    if (!chosen || !(await pathExists(path.join(location, MANIFEST_FILE)))) {
      throw new PydepotError(`${name} ${version ? `version ${version} ` : ''}is not published in ${this.depot}`, { path: location, hint: `run \`nx run ${name}:publish\` first` });
    }
    return { version: chosen, path: location, dispose: async () => undefined };
  }

  /**
   * What the depot's filesystem supports (capabilities.ts), and the
   * adaptations: no symlinks → current.json alone and the environment's own
   * links as copies; no hard links → copies instead of the content store. A
   * share that cannot keep executable bits cannot hold a runnable
   * environment: that is an error naming the capability.
   */
  private async capabilities(envDir: string, log: (m: string) => void): Promise<DepotCapabilities> {
    const caps = await probeCapabilities(envDir);
    const missing = describeMissing(caps);
    if (!caps.executableBits) {
      throw new PydepotError(`the depot ${envDir} does not keep executable bits: a published bin/python could not run from it`, {
        path: envDir,
        hint: 'mount the share with executable files allowed (SMB/CIFS: file_mode=0755; NFS: no noexec; rclone: --file-perms 0755), or publish elsewhere',
      });
    }
    if (missing) log(`the depot's filesystem lacks ${missing}: ${[!caps.symlinks && 'current.json alone, symlinks inside environments as copies', !caps.hardLinks && 'copies instead of the content store', !caps.renameOver && 'pointers replaced by remove + rename', !caps.caseSensitive && 'names checked for case collisions'].filter(Boolean).join('; ')}`);
    return caps;
  }

  private async envDir(name: string): Promise<string> {
    const envDir = path.join(this.depot, name);
    try {
      const created = await fs.mkdir(envDir, { recursive: true });
      if (created) {
        // Folders this publish created (the depot, the environment's): traversable by every user.
        for (let dir = envDir; dir.length >= created.length; dir = path.dirname(dir)) await chmodShared(dir, this.options.groupWritable);
      }
      if (await fs.mkdir(this.objects, { recursive: true })) await chmodShared(this.objects, this.options.groupWritable);
    } catch (error) {
      throw new PydepotError(`cannot create ${envDir}: ${(error as Error).message}`, {
        path: envDir,
        hint: 'check that the depot is mounted and writable (set it with PYDEPOT_DEPOT or "publish.depot")',
      });
    }
    return envDir;
  }

  /** The depot-wide content store: identical files of every environment and runtime stored once. */
  private get objects(): string {
    return path.join(this.depot, OBJECTS_DIR);
  }

  /**
   * Layout "shared": put the runtime the version runs on into
   * `<depot>/_runtimes/<id>`, once for the whole depot (concurrent publishes
   * of environments on one runtime queue on the runtimes folder's lock; the
   * first writes it, atomically, the others find it). A runtime already
   * there is checked against its file index first (a partial sync, a
   * truncated file) and repaired atomically when damaged; one that fails its
   * completeness check after writing is removed, never reused. The publish
   * holds the runtime (a hold file, and its mtime refreshed) until it ends,
   * so no collection removes it meanwhile, whatever any environment's
   * retention settings say.
   */
  private async publishRuntime(request: PublishRequest, versionDir: string, caps: DepotCapabilities): Promise<{ stats: { bytes: number; linked: number; copied: number }; release?: () => Promise<void> }> {
    const none = { bytes: 0, linked: 0, copied: 0 };
    const ref = request.manifest.runtime;
    if (!ref) return { stats: none };
    const runtimes = path.join(this.depot, RUNTIMES_DIR);
    const dest = path.join(runtimes, ref.id);
    if (path.resolve(versionDir, ref.path) !== dest) {
      throw new PydepotError(`${request.manifest.name} looks for its runtime at ${ref.path}, which is not ${dest} from ${versionDir}`, {
        path: request.buildPath,
        hint: 'rebuild the environment with this version of pydepot (nx run <env>:install --skip-nx-cache)',
      });
    }
    const created = await fs.mkdir(runtimes, { recursive: true });
    if (created) await chmodShared(runtimes, this.options.groupWritable);
    const lock = await acquireRuntimeLock(runtimes, ref.id, { log: request.log, ...this.options.lock });
    try {
      await removeLeftovers(runtimes, ref.id);
      const release = await holdRuntime(runtimes, ref.id);
      let damaged: string[] = [];
      if (await pathExists(path.join(dest, MANIFEST_FILE))) {
        const report = await checkTreeIntegrity(dest);
        if (report.problems.length === 0) {
          const now = new Date();
          await fs.utimes(dest, now, now).catch(() => undefined);
          return { stats: none, release };
        }
        request.log(`runtime ${ref.id} in the depot is damaged; repairing it:\n${describeProblems(report.problems)}`);
        damaged = report.problems.map((p) => p.rel);
      }
      try {
        return { stats: await this.writeRuntime(request, ref.id, dest, damaged, caps), release };
      } catch (error) {
        await release();
        throw error;
      }
    } finally {
      await lock.release();
    }
  }

  /** Write (or, over a damaged one, replace) a runtime in the depot, atomically; on any failure nothing of it stays. */
  private async writeRuntime(request: PublishRequest, id: string, dest: string, damaged: string[], caps: DepotCapabilities): Promise<{ bytes: number; linked: number; copied: number }> {
    const ref = request.manifest.runtime!;
    let source = path.resolve(request.buildPath, ref.path);
    // Not in the build's store either (a fresh clone): straight from the remote cache into the depot, written once.
    let fetched: string | undefined;
    if (!(await pathExists(path.join(source, MANIFEST_FILE))) && request.fetchRuntimeTo) {
      const into = siblingTempPath(dest, 'fetch');
      if (await request.fetchRuntimeTo(into)) source = fetched = into;
    }
    if (!(await pathExists(path.join(source, MANIFEST_FILE)))) await request.provideRuntime?.();
    try {
      return await this.placeRuntime(request, id, source, dest, damaged, caps, fetched !== undefined);
    } finally {
      if (fetched) await fs.rm(fetched, { recursive: true, force: true });
    }
  }

  /** The runtime tree at `source` into `dest` through the content store (`move`: its files moved, not copied: a fetched tree on the depot's filesystem). */
  private async placeRuntime(request: PublishRequest, id: string, source: string, dest: string, damaged: string[], caps: DepotCapabilities, move: boolean): Promise<{ bytes: number; linked: number; copied: number }> {
    const index = await readIndex(source).catch(() => undefined);
    if (!index || !(await pathExists(path.join(source, MANIFEST_FILE)))) {
      throw new PydepotError(`the runtime ${id} of ${request.manifest.name} is neither in the depot${damaged.length ? ' (undamaged)' : ''} nor at ${source}`, {
        path: source,
        hint: `build it again: nx run ${request.manifest.name}:venv`,
      });
    }
    // A damaged file shares its inode with its object in the content store: never link it again.
    const byRel = new Map(index.map((e) => [e.rel, e]));
    for (const rel of damaged) {
      const e = byRel.get(rel);
      if (e?.kind === 'file') await fs.rm(path.join(this.objects, objectKey(e)), { force: true });
    }
    const tmp = siblingTempPath(dest);
    let placed = false;
    try {
      request.log(`writing runtime ${id} to ${dest}`);
      const stats = await assembleVersion(source, index, tmp, this.objects, caps, move);
      await makeShared(tmp, this.options.groupWritable);
      if (damaged.length) await retire(path.dirname(dest), id);
      await fs.rename(tmp, dest);
      placed = true;
      checkpoint('runtime', dest);
      await assertComplete(dest, index);
      return stats;
    } catch (error) {
      await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      // Written but incomplete (a share that lost files): removed, so no later publish reuses it.
      if (placed) await retire(path.dirname(dest), id).catch(() => undefined);
      // Objects this write stored for files that are gone with it: none left behind (a full disk).
      await collectGarbage(this.objects).catch(() => undefined);
      const output = childOutput(error);
      throw new PydepotError(`publishing runtime ${id} to ${dest} failed: ${(error as Error).message}${output}; the depot was left as it was`, {
        path: dest,
        hint:
          (error as NodeJS.ErrnoException).code === 'ENOSPC' || /No space left/.test(output)
            ? 'the depot is full: free space or lower "keep" to remove old versions'
            : ((error as PydepotError).hint ?? 'check the space and permissions of the depot'),
      });
    }
  }

  /**
   * Remove runtimes no kept version of any environment runs on, that no
   * publish in progress holds, and that no publish used for the depot-wide
   * grace period (PYDEPOT_RUNTIME_GRACE_DAYS, default 7; never one
   * environment's `keepDays`): a rollback can only pick a kept version, and
   * its runtime is then still there.
   */
  private async collectRuntimes(log: (m: string) => void): Promise<void> {
    const runtimes = path.join(this.depot, RUNTIMES_DIR);
    const ids = (await fs.readdir(runtimes).catch(() => [] as string[])).filter((n) => !n.startsWith('.'));
    if (ids.length === 0) return;
    const lock = await acquirePublishLock(runtimes, { log, ...this.options.lock });
    try {
      const used = new Set<string>();
      for (const name of await fs.readdir(this.depot)) {
        if (name.startsWith('.') || name === RUNTIMES_DIR) continue;
        const envDir = path.join(this.depot, name);
        for (const version of await listVersions(envDir)) {
          const ref = (await readManifest(path.join(envDir, version)).catch(() => undefined))?.runtime;
          if (ref) used.add(ref.id);
        }
      }
      const graceMs = runtimeGraceDays() * 86_400_000;
      for (const id of ids.filter((i) => !used.has(i))) {
        // Under the runtime's own lock, the one its writers take before they hold it: a publish that found it there holds it now.
        const own = await acquireRuntimeLock(runtimes, id, { log, ...this.options.lock });
        try {
          if ((await heldRuntimes(runtimes)).has(id)) continue;
          const st = await fs.stat(path.join(runtimes, id)).catch(() => undefined);
          if (!st || Date.now() - st.mtimeMs < graceMs) continue;
          await retire(runtimes, id);
          log(`runtime ${id}: no kept version runs on it; removed`);
        } finally {
          await own.release();
        }
      }
      // What killed writers and collections left (temp, fetch and trash folders), each under its runtime's lock.
      const owners = new Set((await fs.readdir(runtimes).catch(() => [] as string[])).map(leftoverOwner).filter((o): o is string => o !== undefined));
      for (const id of owners) {
        const own = await acquireRuntimeLock(runtimes, id, { log, ...this.options.lock });
        try {
          await removeLeftovers(runtimes, id);
        } finally {
          await own.release();
        }
      }
    } finally {
      await lock.release();
    }
  }

  /** Objects no version links to any more, in the depot's store and in an environment's own store (depots from before the depot-wide store). */
  private async collectGarbage(envDir: string): Promise<void> {
    await collectGarbage(this.objects);
    if (await pathExists(path.join(envDir, OBJECTS_DIR))) await collectGarbage(path.join(envDir, OBJECTS_DIR));
  }

  /**
   * Delete all but the `keep` newest versions; never `current` nor the one
   * just published, and none that stopped being current less than
   * `keepDays` ago (artists may still be running it).
   */
  private async applyRetention(envDir: string, published: string, log: (m: string) => void): Promise<string[]> {
    const keep = this.options.keep;
    if (!keep || keep < 1) return [];
    const graceMs = (this.options.keepDays ?? DEFAULT_KEEP_DAYS) * 86_400_000;
    const current = await readCurrentVersion(envDir);
    const order = await versionsNewestFirst(envDir);
    const kept = new Set([...order.slice(0, keep), current, published]);
    const retiredAt = await retirementTimes(envDir);
    const removed: string[] = [];
    const spared: string[] = [];
    for (const version of order.filter((v) => !kept.has(v))) {
      const since = retiredAt.get(version) ?? (await fs.stat(path.join(envDir, version))).mtimeMs;
      if (Date.now() - since < graceMs) {
        spared.push(version);
        continue;
      }
      await retire(envDir, version);
      removed.push(version);
    }
    if (removed.length) log(`retention (keep ${keep}): removed ${removed.join(', ')}`);
    if (spared.length) log(`retention (keep ${keep}): kept ${spared.join(', ')} for now (current less than ${graceMs / 86_400_000} day(s) ago; "keepDays")`);
    return removed;
  }
}

/** A failed child's own words (cp's "cannot preserve ownership", "No space left"), for the message: its last lines. */
function childOutput(error: unknown): string {
  return error instanceof ProcessError && error.output.trim() ? `\n${error.output.trim().split('\n').slice(-5).join('\n')}` : '';
}

/** Retention's default grace period: a replaced version stays this many days. */
export const DEFAULT_KEEP_DAYS = 7;

/** The depot-wide grace of unused runtimes, in days: PYDEPOT_RUNTIME_GRACE_DAYS, default 7. */
export function runtimeGraceDays(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.PYDEPOT_RUNTIME_GRACE_DAYS);
  return env.PYDEPOT_RUNTIME_GRACE_DAYS !== undefined && env.PYDEPOT_RUNTIME_GRACE_DAYS !== '' && Number.isFinite(value) && value >= 0 ? value : DEFAULT_KEEP_DAYS;
}

/** A hold older than this is a killed publish's: it no longer protects its runtime. */
const HOLD_STALE_MS = 24 * 3_600_000;
const HOLD_PREFIX = '.hold-';

/** Hold runtime `id` for the duration of a publish (refreshed while held); returns the release. */
async function holdRuntime(runtimes: string, id: string): Promise<() => Promise<void>> {
  const file = path.join(runtimes, `${HOLD_PREFIX}${id}.${process.pid}-${Math.random().toString(16).slice(2, 8)}`);
  await fs.writeFile(file, `${new Date().toISOString()}\n`);
  const timer = setInterval(() => {
    const now = new Date();
    fs.utimes(file, now, now).catch(() => undefined);
  }, 60_000);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await fs.rm(file, { force: true });
  };
}

/** Runtimes a publish in progress holds. */
async function heldRuntimes(runtimes: string): Promise<Set<string>> {
  const held = new Set<string>();
  for (const name of await fs.readdir(runtimes).catch(() => [] as string[])) {
    if (!name.startsWith(HOLD_PREFIX)) continue;
    const st = await fs.stat(path.join(runtimes, name)).catch(() => undefined);
    if (st && Date.now() - st.mtimeMs < HOLD_STALE_MS) held.add(name.slice(HOLD_PREFIX.length).replace(/\.\d+-[0-9a-f]+$/, ''));
    else if (st) await fs.rm(path.join(runtimes, name), { force: true });
  }
  return held;
}

/** When each version last stopped being current (the time of the release after its last one). */
async function retirementTimes(envDir: string): Promise<Map<string, number>> {
  const releases = await readReleases(envDir);
  const at = new Map<string, number>();
  releases.forEach((r, i) => {
    const next = releases[i + 1];
    if (next && next.version !== r.version) at.set(r.version, Date.parse(next.at));
  });
  return at;
}

/** Delete a version: renamed aside first, so a deletion cut short leaves a hidden folder, never half a version. */
async function retire(envDir: string, version: string): Promise<void> {
  const aside = path.join(envDir, `.trash-${version}-${process.pid}`);
  await fs.rename(path.join(envDir, version), aside);
  checkpoint('retired');
  await fs.rm(aside, { recursive: true, force: true });
}

/** Every complete version folder of an environment. */
export async function listVersions(envDir: string): Promise<string[]> {
  const names = await fs.readdir(envDir).catch(() => [] as string[]);
  const versions: string[] = [];
  for (const name of names) {
    if (name.startsWith('.') || name === CURRENT) continue;
    if (await pathExists(path.join(envDir, name, MANIFEST_FILE))) versions.push(name);
  }
  return versions.sort();
}

/** Versions by their last publish (releases.json), newest first; unknown ones by folder age. */
async function versionsNewestFirst(envDir: string): Promise<string[]> {
  const versions = await listVersions(envDir);
  const releases = await readReleases(envDir);
  const last = new Map<string, number>();
  releases.forEach((r, i) => r.action === 'publish' && last.set(r.version, i));
  const mtimes = new Map(await Promise.all(versions.map(async (v) => [v, (await fs.stat(path.join(envDir, v))).mtimeMs] as const)));
  return versions.sort((a, b) => (last.get(b) ?? -1) - (last.get(a) ?? -1) || mtimes.get(b)! - mtimes.get(a)!);
}

async function previousVersion(envDir: string, current: string | undefined): Promise<string | undefined> {
  const releases = await readReleases(envDir);
  const at = releases.map((r) => r.version).lastIndexOf(current ?? '');
  return at > 0 ? (releases[at].previous ?? releases[at - 1].version) : undefined;
}

const LEFTOVER = /^\..+\.(tmp|fetch)-\d+-[0-9a-f]{6}(\.tar\.gz)?$/;

/** The runtime a leftover of `_runtimes` belongs to: `.<id>.tmp-…`, `..<id>.fetch-….tmp-…[.tar.gz]`, `.trash-<id>-<pid>`. */
export function leftoverOwner(name: string): string | undefined {
  if (name.startsWith('.trash-')) return name.slice('.trash-'.length).replace(/-\d+$/, '') || undefined;
  if (!LEFTOVER.test(name)) return undefined;
  return /^\.+(.+?)\.(tmp|fetch)-\d+-[0-9a-f]{6}/.exec(name)?.[1];
}

/** Temp and trash folders of publishes that were killed (the lock guarantees none is live); true if there were any. */
async function removeLeftovers(envDir: string, only?: string): Promise<boolean> {
  // `only`: one runtime's, in _runtimes (its temp and fetch folders, a fetch's download, its trash), by leftoverOwner.
  const names = await fs.readdir(envDir).catch(() => [] as string[]);
  const found = names.filter((n) => (only === undefined ? LEFTOVER.test(n) || n.startsWith('.trash-') : leftoverOwner(n) === only)).map((n) => path.join(envDir, n));
  await Promise.all(found.map((p) => fs.rm(p, { recursive: true, force: true })));
  return found.length > 0;
}

/**
 * The depot's content store (`<depot>/.objects`): every file of every
 * version of every environment and runtime, once, named by its sha256 (and
 * an `x` suffix when executable). Version folders hold hard links into it,
 * so a new version writes only the content no earlier version of any
 * environment had, whatever its path; new content is written into the
 * version's temp folder and linked into the store only when complete, so a
 * killed publish never leaves half an object. Publishers of different
 * environments share it without a common lock: collection removes only
 * objects with one link (no version uses them), and a publisher whose object
 * was collected meanwhile copies the content and stores it again.
 */
export const OBJECTS_DIR = '.objects';

/** A file's name in the content store: its sha256, and `x` when executable (hard links share one mode). */
function objectKey(e: IndexedEntry): string {
  return `${e.sha256}${e.mode! & 0o111 ? 'x' : ''}`;
}

/** Remove objects no version links to any more (link count 1: only the store's own name). */
async function collectGarbage(store: string): Promise<void> {
  const names = await fs.readdir(store).catch(() => [] as string[]);
  await mapLimit(names, 16, async (n) => {
    const st = await fs.lstat(path.join(store, n)).catch(() => undefined);
    if (st?.isFile() && st.nlink === 1) await fs.rm(path.join(store, n), { force: true });
  });
}

/**
 * Write the build into `dest` through the content store: content the store
 * already has is hard-linked (no bytes written); new content is added to the
 * store, then linked. Where the depot cannot hard-link, files are copied
 * straight into `dest` (correct, just without reuse).
 */
async function assembleVersion(build: string, index: IndexedEntry[], dest: string, store: string, caps: DepotCapabilities, move = false): Promise<{ bytes: number; linked: number; copied: number }> {
  if (!caps.caseSensitive) assertNoCaseCollisions(index, dest);
  await fs.mkdir(store, { recursive: true });
  const canLink = caps.hardLinks;
  const stored = new Set(canLink ? await fs.readdir(store) : []);
  if (stored.size === 0 && process.platform !== 'win32' && caps.symlinks) return copyFirstVersion(build, dest, store, index, canLink, move);
  await fs.mkdir(dest, { recursive: true });
  for (const e of index) if (e.kind === 'dir') await fs.mkdir(path.join(dest, e.rel), { mode: 0o700 });
  const stats = { bytes: 0, linked: 0, copied: 0 };
  const copyInto = async (from: string, to: string, mode: number, size: number) => {
    if (move) await fs.rename(from, to);
    else await fs.copyFile(from, to, constants.COPYFILE_FICLONE);
    await fs.chmod(to, mode);
    stats.bytes += size;
    stats.copied++;
  };
  await mapLimit(
    index.filter((e) => e.kind !== 'dir'),
    16,
    async (e) => {
      const to = path.join(dest, e.rel);
      const key = objectKey(e);
      if (e.kind === 'symlink') {
        if (caps.symlinks) await fs.symlink(e.target!, to);
        else await copyLinkTarget(build, e, to);
      } else if (canLink && stored.has(key) && (await linkObject(path.join(store, key), to, e.size!))) {
        stats.linked++;
      } else {
        // New content goes into the (temp) version folder first, then into the store:
        // the store only ever receives complete files.
        await copyInto(path.join(build, e.rel), to, e.mode!, e.size!);
        if (canLink) {
          await fs.link(to, path.join(store, key)).catch((error: NodeJS.ErrnoException) => {
            if (error.code !== 'EEXIST') throw error; // the same content twice in one version
          });
          stored.add(key);
        }
      }
      checkpoint(`file ${e.rel}`);
    },
  );
  for (const name of [MANIFEST_FILE, SBOM_FILE]) {
    const st = await fs.stat(path.join(build, name)).catch(() => undefined);
    if (st) await copyInto(path.join(build, name), path.join(dest, name), st.mode & 0o7777, st.size);
  }
  await writeFileIndex(dest, index);
  for (const e of [...index].reverse()) if (e.kind === 'dir') await fs.chmod(path.join(dest, e.rel), (await fs.stat(path.join(build, e.rel))).mode & 0o7777);
  await fs.chmod(dest, (await fs.stat(build)).mode & 0o7777);
  return stats;
}

/**
 * Link a stored object into a version; false when another publisher's
 * collection removed it meanwhile (the store is depot-wide): the caller
 * copies the content and stores it again.
 */
async function linkObject(object: string, to: string, size: number): Promise<boolean> {
  try {
    const st = await fs.stat(object);
    if (st.size !== size) {
      // Damaged in place (a file truncated through one of its links): drop it; the caller stores it again.
      await fs.rm(object, { force: true });
      return false;
    }
    await fs.link(object, to);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
}

/**
 * The first version has nothing to reuse: the system's `cp -a` copies a tree
 * about twice as fast as per-file calls from Node (measured in
 * tools/bench/publish.ts); then every file is linked into the store.
 */
async function copyFirstVersion(build: string, dest: string, store: string, index: IndexedEntry[], canLink: boolean, move = false): Promise<{ bytes: number; linked: number; copied: number }> {
  // Modes and links, never owners (shares that cannot keep ownership, sshfs or SMB, refuse a chown even to root) nor
  // times (sftp cannot set a symlink's; bytecode is hash-checked, so nothing reads them, as on a VCS-synced share).
  if (move) await fs.rename(build, dest);
  else await run('cp', ['-R', '--preserve=mode,links', '--no-dereference', build, dest], { failure: `cannot copy ${build} to ${dest}`, hint: 'check the space and permissions of the depot' });
  await writeFileIndex(dest, index);
  const files = index.filter((e) => e.kind === 'file');
  if (canLink) {
    await mapLimit(files, 16, async (e) => {
      await fs.link(path.join(dest, e.rel), path.join(store, objectKey(e))).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      checkpoint(`file ${e.rel}`);
    });
  }
  const metadata = await Promise.all([MANIFEST_FILE, SBOM_FILE].map((n) => fs.stat(path.join(dest, n)).then((st) => st.size, () => 0)));
  return { bytes: files.reduce((sum, e) => sum + e.size!, 0) + metadata.reduce((a, b) => a + b, 0), linked: 0, copied: files.length + metadata.filter(Boolean).length };
}

/**
 * On a share without symlinks, an environment's own link (`bin/python` →
 * `python3.12`, `lib/libpython3.12.so` → `.so.1.0`) becomes a copy of what it
 * points at: the launcher finds everything from its own real location, so a
 * copy of it works where the link did.
 */
async function copyLinkTarget(build: string, e: IndexedEntry, to: string): Promise<void> {
  const target = path.resolve(path.dirname(path.join(build, e.rel)), e.target!);
  await fs.cp(target, to, { recursive: true, dereference: true, preserveTimestamps: true }).catch((error: NodeJS.ErrnoException) => {
    throw new PydepotError(`${e.rel} is a symlink to ${e.target}, which cannot be copied in its place on a share without symlinks: ${error.message}`, {
      path: path.join(build, e.rel),
      hint: 'publish to a share with symlink support, or remove the link from the environment',
    });
  });
}

/** Every entry of the build's index is in the version folder, files at their size; else the share lost something. */
async function assertComplete(versionDir: string, index: IndexedEntry[]): Promise<void> {
  const found = new Map((await walkTree(versionDir)).map((e) => [e.rel, e]));
  const lost = index.filter((e) => {
    const f = found.get(e.rel);
    if (!f) return true;
    return e.kind === 'file' && f.kind === 'file' && f.size !== e.size;
  });
  if (lost.length) {
    throw new PydepotError(`the depot lost ${lost.length} file(s) of ${versionDir} after writing them (${lost.slice(0, 3).map((e) => e.rel).join(', ')}${lost.length > 3 ? ', …' : ''})`, {
      path: versionDir,
      hint: 'the share (or its client cache) does not keep what is written and renamed: for an rclone mount use --vfs-cache-mode off; check the share before publishing again',
    });
  }
}

/** On a case-insensitive share, `Tool.py` and `tool.py` would be one file: refuse, naming both. */
function assertNoCaseCollisions(index: IndexedEntry[], dest: string): void {
  const seen = new Map<string, string>();
  for (const e of index) {
    const key = e.rel.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined && other !== e.rel) {
      throw new PydepotError(`the depot's filesystem is case-insensitive, and the environment holds both ${other} and ${e.rel}`, {
        path: dest,
        hint: 'publish to a case-sensitive share, or drop one of the packages that ship these files',
      });
    }
    seen.set(key, e.rel);
  }
}

/**
 * Every published version and runtime carries its file index (each entry
 * with kind, mode, size and sha256): verify checks a depot copy against it,
 * and publish checks a runtime it is about to reuse.
 */
async function writeFileIndex(dest: string, index: IndexedEntry[]): Promise<void> {
  await writeJsonAtomic(path.join(dest, FILES_INDEX), { schemaVersion: 1, entries: index }, 0o644);
}

/** A tree's file index (pydepot-files.json, written by the install stage), or computed when absent. */
async function readIndex(root: string): Promise<IndexedEntry[]> {
  return (await readFileIndex(root)) ?? indexTree(root, (rel) => !METADATA_FILES.has(rel));
}

/**
 * Both pointers (current.json, and the symlink where the platform and the
 * share have them) name `version`. Without `caps` (before the lock), a
 * missing link counts as a share without symlinks.
 */
/** Both pointers name `version` (the link only where the share has symlinks). */
function isCurrent(envDir: string, version: string, caps?: DepotCapabilities): Promise<boolean> {
  return currentIs(envDir, version, caps ? !caps.symlinks : undefined);
}

/** Move `current` to `version`; returns false when it already pointed there. */
export async function pointCurrent(envDir: string, version: string, caps?: DepotCapabilities): Promise<boolean> {
  const link = path.join(envDir, CURRENT);
  const file = path.join(envDir, CURRENT_FILE);
  if (await isCurrent(envDir, version, caps)) return false;
  const linkTarget = await fs.readlink(link).catch(() => undefined);
  if (linkTarget !== version && caps?.symlinks !== false) {
    const tmp = siblingTempPath(link);
    try {
      await fs.symlink(version, tmp, 'dir');
      await fs.rename(tmp, link);
      checkpoint('current link');
    } catch (error) {
      await fs.rm(tmp, { force: true });
      // Shares without symlink support keep only current.json.
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') throw error;
    }
  }
  await writeJsonAtomic(file, { version, path: version }, POINTER_MODE);
  checkpoint('current.json');
  return true;
}

