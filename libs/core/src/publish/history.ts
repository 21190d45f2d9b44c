import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { EnvironmentManifest } from '../environment/manifest';
import { InstalledPackage } from '../environment/python';
import { writeFileAtomic, writeJsonAtomic } from '../fs/atomic';

/** The publish log of one environment in the depot, newest last. */
export const RELEASES_FILE = 'releases.json';
export const CHANGELOG_FILE = 'CHANGELOG.md';
/** Pointers and logs in a depot: readable by every user whatever the publisher's umask. */
export const POINTER_MODE = 0o644;

export interface PackageChanges {
  added: InstalledPackage[];
  removed: InstalledPackage[];
  upgraded: Array<{ name: string; from: string; to: string }>;
}

export interface Release {
  version: string;
  action: 'publish' | 'rollback';
  at: string;
  /** The version `current` pointed at before. */
  previous?: string;
  python: string;
  changes: PackageChanges;
}

/** Packages added, removed and changed in version between two manifests (matched by normalised name). */
export function diffPackages(before: InstalledPackage[], after: InstalledPackage[]): PackageChanges {
  const key = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');
  const old = new Map(before.map((p) => [key(p.name), p]));
  const now = new Map(after.map((p) => [key(p.name), p]));
  return {
    added: after.filter((p) => !old.has(key(p.name))).map(({ name, version }) => ({ name, version })),
    removed: before.filter((p) => !now.has(key(p.name))).map(({ name, version }) => ({ name, version })),
    upgraded: after
      .filter((p) => old.has(key(p.name)) && old.get(key(p.name))!.version !== p.version)
      .map((p) => ({ name: p.name, from: old.get(key(p.name))!.version, to: p.version })),
  };
}

export async function readReleases(envDir: string): Promise<Release[]> {
  try {
    return (JSON.parse(await fs.readFile(path.join(envDir, RELEASES_FILE), 'utf8')) as { releases: Release[] }).releases;
  } catch {
    return [];
  }
}

/** Append a release and rewrite the changelog (both atomically). */
export async function recordRelease(envDir: string, release: Omit<Release, 'at'>, name: string): Promise<Release[]> {
  const releases = [...(await readReleases(envDir)), { ...release, at: new Date().toISOString() }];
  await writeJsonAtomic(path.join(envDir, RELEASES_FILE), { schemaVersion: 1, releases }, POINTER_MODE);
  await writeFileAtomic(path.join(envDir, CHANGELOG_FILE), renderChangelog(name, releases), POINTER_MODE);
  return releases;
}

export function releaseFor(manifest: EnvironmentManifest, previous: EnvironmentManifest | undefined, action: Release['action']): Omit<Release, 'at'> {
  return {
    version: manifest.version!,
    action,
    previous: previous?.version,
    python: manifest.python.version,
    changes: diffPackages(previous?.packages ?? [], manifest.packages),
  };
}

export function renderChangelog(name: string, releases: Release[]): string {
  const lines = [`# ${name}`, '', 'Newest first. Written by pydepot on every publish and rollback.', ''];
  for (const r of [...releases].reverse()) {
    lines.push(`## ${r.version} — ${r.action} — ${r.at}`, '');
    if (r.previous) lines.push(`Previous: ${r.previous}. Python ${r.python}.`, '');
    else lines.push(`First version. Python ${r.python}.`, '');
    const { added, removed, upgraded } = r.changes;
    for (const p of added) lines.push(`- added ${p.name} ${p.version}`);
    for (const p of upgraded) lines.push(`- ${p.name} ${p.from} → ${p.to}`);
    for (const p of removed) lines.push(`- removed ${p.name} ${p.version}`);
    if (added.length + upgraded.length + removed.length === 0) lines.push('- no package changes');
    lines.push('');
  }
  return lines.join('\n');
}
