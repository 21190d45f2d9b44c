/*
 * Target platforms: the OSes an environment is published for (the spec's
 * "platforms"). Each (Python, platform) pair is one runtime and every stage
 * of a platform has its own folders, cache keys and depot folder: Linux at
 * the depot's root (as always), Windows under `windows/` (a share Windows
 * artists map as a drive letter holds nothing else). A Linux agent builds
 * the Windows versions too (docs/WINDOWS.md): packages are resolved for
 * win_amd64 (binary wheels only) and the launcher is cross-compiled.
 */
export type TargetPlatform = 'linux' | 'windows';
export const TARGET_PLATFORMS: readonly TargetPlatform[] = ['linux', 'windows'];

/** The platform this agent builds for when a spec names none. */
export function hostTargetPlatform(platform: NodeJS.Platform = process.platform): TargetPlatform {
  return platform === 'win32' ? 'windows' : 'linux';
}

/** A platform's folder under a build folder or depot: Linux at the root, Windows in `windows/`. */
export function platformFolder(root: string, platform: TargetPlatform, join: (...p: string[]) => string): string {
  return platform === 'windows' ? join(root, 'windows') : root;
}

/** The platform a manifest's `platform` field names ("win32-x64" → windows, "linux-x64" → linux). */
export function platformOfManifest(manifest: { platform?: string }): TargetPlatform {
  return hostTargetPlatform((manifest.platform ?? process.platform).split('-')[0] as NodeJS.Platform);
}

/** The platform a built tree is for when that is not this agent's (a Windows version built on Linux); undefined otherwise. */
export function foreignPlatformOf(manifest: { platform?: string }): TargetPlatform | undefined {
  const platform = platformOfManifest(manifest);
  return isForeign(platform) ? platform : undefined;
}

/** Built here for another OS: nothing of it runs natively (Windows versions on Linux run under Wine, if present). */
export function isForeign(platform: TargetPlatform | undefined, host: NodeJS.Platform = process.platform): boolean {
  return platform !== undefined && platform !== hostTargetPlatform(host);
}

/** The spec's "platforms" read leniently: valid names only, the host's when none. */
export function declaredPlatforms(value: unknown): TargetPlatform[] {
  const named = Array.isArray(value) ? value.filter((p): p is TargetPlatform => (TARGET_PLATFORMS as string[]).includes(p)) : [];
  return named.length ? [...new Set(named)] : [hostTargetPlatform()];
}

/** What pip and uv call the platform (binary wheels for it, from any agent). */
export const WHEEL_PLATFORMS: Record<TargetPlatform, { pip: string; uv: string }> = {
  linux: { pip: 'manylinux2014_x86_64', uv: 'x86_64-manylinux_2_17' },
  windows: { pip: 'win_amd64', uv: 'x86_64-pc-windows-msvc' },
};
