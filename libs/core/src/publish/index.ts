import { PydepotError } from '../errors';
import { PublisherKind, PUBLISHERS, quotedList } from '../model/registry';
import { cacheDir } from '../tools/tool-cache';
import { ARCHIVE_FORMATS, ArchiveFormat, ArchivePublisher } from './archive';
import { DirectoryPublisher } from './directory';
import { GitPublisher } from './git';
import { Publisher } from './publisher';

export type { PublisherKind };

/** A publish, verify or rollback target's publisher options: the settings, each optional (the spec's "publish" wins). */
export type PublisherOptions = Partial<PublisherSettings>;

export interface PublisherSettings {
  /** directory (default), git or archive. */
  to?: PublisherKind;
  /** A folder (directory, archive) or a repository URL or path (git). */
  depot: string;
  /** Versions to keep (directory). */
  keep?: number;
  /** Days a replaced version survives retention (directory; default 7). */
  keepDays?: number;
  /** Group-writable folders and files (directory). */
  groupWritable?: boolean;
  /** Branch (git). */
  branch?: string;
  /** Git LFS attributes for binaries (git). */
  lfs?: boolean;
  /** Archive formats (archive). */
  formats?: ArchiveFormat[];
}

/**
 * The publishers, by the names model/registry.ts declares (TypeScript checks
 * the table is complete). A new store (Perforce, an artifact server) is one
 * more entry here, one class implementing `Publisher`, its name in the
 * registry and its settings in environment.schema.json (docs/PUBLISHING.md).
 */
const PUBLISHER_FACTORIES: Record<PublisherKind, (s: PublisherSettings) => Publisher> = {
  directory: (s) => new DirectoryPublisher(s.depot, { keep: s.keep, keepDays: s.keepDays, groupWritable: s.groupWritable }),
  git: (s) => new GitPublisher(s.depot, { branch: s.branch, lfs: s.lfs, cacheDir: cacheDir() }),
  archive: (s) => {
    const bad = (s.formats ?? []).filter((f) => !ARCHIVE_FORMATS.includes(f));
    if (bad.length) throw new PydepotError(`"formats" must be ${quotedList(ARCHIVE_FORMATS)}; got ${bad.map((f) => `"${f}"`).join(', ')}`);
    return new ArchivePublisher(s.depot, s.formats?.length ? s.formats : ['tar.zst']);
  },
};

/** The one place a publisher is chosen; executors only see `Publisher`. */
export function getPublisher(settings: PublisherSettings | string): Publisher {
  const s = typeof settings === 'string' ? { depot: settings } : settings;
  const factory = (PUBLISHER_FACTORIES as Record<string, ((s: PublisherSettings) => Publisher) | undefined>)[s.to ?? 'directory'];
  if (factory) return factory(s);
  throw new PydepotError(`"to" must be ${quotedList(PUBLISHERS)}; got "${s.to}"`, { hint: 'fix "publish.to" in the environment spec or the publish target options' });
}

export * from './publisher';
export { DirectoryPublisher, listVersions, pointCurrent, readCurrentVersion, CURRENT, CURRENT_FILE } from './directory';
export { GitPublisher, LFS_PATTERNS } from './git';
export { ArchivePublisher, ARCHIVE_FORMATS, writeZip } from './archive';
export type { ArchiveFormat } from './archive';
export { acquirePublishLock, LOCK_FILE } from './lock';
export { diffPackages, readReleases, renderChangelog, RELEASES_FILE, CHANGELOG_FILE } from './history';
export type { Release, PackageChanges } from './history';
export { resolveDepot, publisherSettings } from './depot';
