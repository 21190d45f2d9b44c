import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { MANIFEST_FILE } from '../environment/manifest';
import { RUNTIMES_DIR } from '../environment/layout';
import { checkTreeIntegrity } from '../environment/integrity';
import { LOCK_FILE } from './lock';

/*
 * What a directory depot holds for one environment, read without the rest of
 * the publisher: which version is current (its two pointers) and whether
 * publish's "already published and current" answer could hold. A light
 * module, because the plugin loads it on every run (preTasksExecution), and
 * synchronous reads: a few small ones per environment, for every
 * environment of the workspace, cost less than as many thread-pool round
 * trips.
 */

export const CURRENT = 'current';
export const CURRENT_FILE = 'current.json';

export async function readCurrentVersion(envDir: string): Promise<string | undefined> {
  return readPointers(envDir).version;
}

/** Both pointers name `version` (the link only where the share has links: `noLinks`, or no link at all when unknown). */
export async function isCurrent(envDir: string, version: string, noLinks?: boolean): Promise<boolean> {
  return pointersAgree(readPointers(envDir), version, noLinks);
}

/** current.json (its text and the version it names) and where the `current` link points, each read once. */
function readPointers(envDir: string): { text?: string; version?: string; link?: string } {
  const text = attempt(() => readFileSync(path.join(envDir, CURRENT_FILE), 'utf8'));
  const version = text === undefined ? undefined : attempt(() => (JSON.parse(text) as { version: string }).version);
  return { text, version, link: attempt(() => readlinkSync(path.join(envDir, CURRENT))) };
}

function pointersAgree(pointers: { version?: string; link?: string }, version: string, noLinks?: boolean): boolean {
  const withoutLinks = process.platform === 'win32' || (noLinks ?? pointers.link === undefined);
  return pointers.version === version && (pointers.link === version || withoutLinks);
}

/**
 * The preconditions of publish's fast path that do not depend on which
 * version is being published: a version is current (both pointers agree),
 * its manifest is there, no publish holds the lock, and the runtime it runs
 * on matches its file index (the quick check). Returns that version, the
 * manifest's runtime and current.json's text, or undefined when a publish would have work to do
 * whatever it publishes.
 */
export async function currentIntact(envDir: string, depot: string, runtimeChecks?: Map<string, Promise<boolean>>): Promise<{ version: string; runtime?: string; pointer: string } | undefined> {
  const pointers = readPointers(envDir);
  const version = pointers.version;
  if (typeof version !== 'string' || !pointersAgree(pointers, version)) return undefined;
  if (await exists(path.join(envDir, LOCK_FILE))) return undefined;
  let runtime: string | undefined;
  try {
    runtime = (JSON.parse(readFileSync(path.join(envDir, version, MANIFEST_FILE), 'utf8')) as { runtime?: { id?: string } }).runtime?.id;
  } catch {
    return undefined;
  }
  if (runtime !== undefined && !(await runtimeIntact(depot, runtime, runtimeChecks))) return undefined;
  return { version, runtime, pointer: pointers.text! };
}

/**
 * A key for the depot state publish's "up to date" answer reads (Nx hashes
 * it into the publish task, docs/ARCHITECTURE.md "Publish from the cache"),
 * or undefined when that answer could not be "up to date" (currentIntact).
 *
 * The key names the pointer files and the current version's manifest by
 * inode and change time, not only by content: every write of a pointer is a
 * new file (written beside and renamed), and change times only move
 * forward, so once a publish or rollback has moved `current`, the state a
 * run started from never comes back, and a result recorded for that state
 * is never replayed for another.
 */
export async function currentStateKey(envDir: string, depot: string, runtimeChecks?: Map<string, Promise<boolean>>): Promise<string | undefined> {
  const current = await currentIntact(envDir, depot, runtimeChecks);
  if (!current) return undefined;
  const files = [CURRENT_FILE, CURRENT, path.join(current.version, MANIFEST_FILE)];
  const stats = files.map((f) => {
    const st = attempt(() => lstatSync(path.join(envDir, f), { bigint: true }));
    return st ? `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}` : '-';
  });
  // `current` carries current.json's text as read for the check: the pointers are read once.
  return createHash('sha256').update(JSON.stringify([path.resolve(envDir), current, stats])).digest('hex');
}

/**
 * A depot runtime is there (its manifest) and passes the quick check against
 * its file index; one published without an index (an older pydepot) cannot
 * be checked and is taken as it is. Once per runtime for any number of
 * environments (`checks` memoizes).
 */
export async function runtimeIntact(depot: string, id: string, checks?: Map<string, Promise<boolean>>): Promise<boolean> {
  const root = path.join(depot, RUNTIMES_DIR, id);
  const check = checks?.get(root) ?? (async () => (await exists(path.join(root, MANIFEST_FILE))) && (await checkTreeIntegrity(root)).problems.length === 0)();
  checks?.set(root, check);
  return check;
}

async function exists(p: string): Promise<boolean> {
  return attempt(() => lstatSync(p)) !== undefined;
}

function attempt<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
