import { PydepotError } from '../errors';
import { cacheDir } from '../tools/tool-cache';
import { ARCHIVE_FORMATS, ArchiveFormat, ArchivePublisher } from './archive';
import { DirectoryPublisher } from './directory';
import { GitPublisher } from './git';
import { Publisher } from './publisher';

export type PublisherKind = 'directory' | 'git' | 'archive';

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
 * The one place a publisher is chosen; executors only see `Publisher`. A new
 * store (Perforce, an artifact server) is one more case here and one more
 * class implementing `Publisher` (docs/PUBLISHING.md).
 */
export function getPublisher(settings: PublisherSettings | string): Publisher {
  const s = typeof settings === 'string' ? { depot: settings } : settings;
  switch (s.to ?? 'directory') {
    case 'directory':
      return new DirectoryPublisher(s.depot, { keep: s.keep, keepDays: s.keepDays, groupWritable: s.groupWritable });
    case 'git':
      return new GitPublisher(s.depot, { branch: s.branch, lfs: s.lfs, cacheDir: cacheDir() });
    case 'archive': {
      const bad = (s.formats ?? []).filter((f) => !ARCHIVE_FORMATS.includes(f));
      if (bad.length) throw new PydepotError(`"formats" must be ${ARCHIVE_FORMATS.map((f) => `"${f}"`).join(' or ')}; got ${bad.map((f) => `"${f}"`).join(', ')}`);
      return new ArchivePublisher(s.depot, s.formats?.length ? s.formats : ['tar.zst']);
    }
    default:
      throw new PydepotError(`"to" must be "directory", "git" or "archive"; got "${s.to}"`, { hint: 'fix "publish.to" in the environment spec or the publish target options' });
  }
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
