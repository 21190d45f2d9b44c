import { PydepotError } from '../errors';
import { compareVersions, versionMatches } from '../interpreter/discover';
import { unpackPythonArchive } from './archive';
import { fetchTextCached, fetchVerified, isOffline } from '../download/download';
import { DistributionSource, UnpackContext, UnpackedPython } from './source';

/** Where python-build-standalone publishes its releases: `<base>/<tag>/<file>`. */
export const STANDALONE_RELEASES_URL = 'https://github.com/astral-sh/python-build-standalone/releases/download';

/**
 * The release used when a spec names none. Pinned (never "latest"): a release
 * tag is immutable, so tag + version + platform identify the archive without
 * asking the network, which keeps cache keys cheap and builds reproducible.
 * Bump it deliberately; every environment that relies on it rebuilds.
 */
export const DEFAULT_STANDALONE_RELEASE = '20250604';

/** The release's target triple for a Node platform/arch pair. */
export function standaloneTriple(platform: string = process.platform, arch: string = process.arch): string {
  const triples: Record<string, string> = {
    'linux-x64': 'x86_64-unknown-linux-gnu',
    'linux-arm64': 'aarch64-unknown-linux-gnu',
    'darwin-x64': 'x86_64-apple-darwin',
    'darwin-arm64': 'aarch64-apple-darwin',
    'win32-x64': 'x86_64-pc-windows-msvc',
    'win32-arm64': 'aarch64-pc-windows-msvc',
  };
  const triple = triples[`${platform}-${arch}`];
  if (!triple) {
    throw new PydepotError(`python-build-standalone has no build for ${platform}-${arch} that pydepot knows`, {
      hint: 'use an installed CPython ("source": "installed") or an archive ("archive" + "sha256")',
    });
  }
  return triple;
}

/**
 * The mirror to download from, most specific first: the spec's, then
 * PYDEPOT_PYTHON_MIRROR (a CI agent's setting), then the workspace's, then
 * GitHub. A mirror has the official layout: `<mirror>/<tag>/<file>` and
 * `<mirror>/<tag>/SHA256SUMS`; https://, http:// and file:// all work.
 */
export function standaloneMirror(options: { spec?: string; workspace?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const env = options.env ?? process.env;
  return (options.spec || env.PYDEPOT_PYTHON_MIRROR || options.workspace || STANDALONE_RELEASES_URL).replace(/\/+$/, '');
}

export interface StandaloneAsset {
  version: string;
  release: string;
  filename: string;
  url: string;
  sha256: string;
}

const ASSET = /^cpython-(\d+\.\d+\.\d+)\+(\d+)-([a-z0-9_]+-[a-z0-9_]+-[a-z0-9_]+(?:-[a-z0-9_]+)?)-install_only\.tar\.gz$/;

/** Parse a release's SHA256SUMS ("<hex>  <file>" per line) into install_only assets for one triple. */
export function parseSha256Sums(text: string, triple: string): Array<{ version: string; filename: string; sha256: string }> {
  const assets: Array<{ version: string; filename: string; sha256: string }> = [];
  for (const line of text.split('\n')) {
    const m = /^([0-9a-f]{64})\s+\*?(\S+)\s*$/.exec(line.trim());
    if (!m) continue;
    const a = ASSET.exec(m[2]);
    if (a && a[3] === triple) assets.push({ version: a[1], filename: m[2], sha256: m[1] });
  }
  return assets;
}

/**
 * The install_only archive for `request` ("3.12" → newest 3.12.x in the
 * release; "3.12.7" → exactly that), verified against the release's
 * SHA256SUMS or against `pinnedSha256`.
 */
export async function resolveStandaloneAsset(options: {
  request: string;
  release: string;
  triple: string;
  mirror: string;
  cacheDir: string;
  pinnedSha256?: string;
  offline?: boolean;
  log?: (message: string) => void;
}): Promise<StandaloneAsset> {
  const { request, release, triple, mirror } = options;
  const url = (file: string) => `${mirror}/${release}/${encodeURIComponent(file)}`;
  // An exact version with a pinned hash needs no listing at all.
  if (/^\d+\.\d+\.\d+$/.test(request) && options.pinnedSha256) {
    const filename = `cpython-${request}+${release}-${triple}-install_only.tar.gz`;
    return { version: request, release, filename, url: url(filename), sha256: options.pinnedSha256 };
  }
  const sums = await fetchTextCached(url('SHA256SUMS'), options.cacheDir, `standalone-releases/${release}/SHA256SUMS`, { offline: options.offline, log: options.log });
  const assets = parseSha256Sums(sums, triple);
  const match = assets.filter((a) => versionMatches(a.version, request)).sort((a, b) => compareVersions(b.version, a.version))[0];
  if (!match) {
    const available = [...new Set(assets.map((a) => a.version))].sort(compareVersions);
    throw new PydepotError(
      `python-build-standalone release ${release} has no CPython ${request} for ${triple}; it has ${available.length ? available.join(', ') : 'no install_only builds for this platform'}`,
      { hint: 'pick one of those versions, or another release with "release" (tags are listed at https://github.com/astral-sh/python-build-standalone/releases)' },
    );
  }
  if (options.pinnedSha256 && options.pinnedSha256 !== match.sha256) {
    throw new PydepotError(`the pinned sha256 ${options.pinnedSha256} is not the one release ${release} lists for ${match.filename} (${match.sha256})`, {
      hint: 'update "sha256" in the spec, or pin the release the hash came from',
    });
  }
  return { ...match, release, url: url(match.filename) };
}

/**
 * python-build-standalone by version: the relocatable CPython builds uv, rye
 * and rules_python use. Downloaded once into the content-addressed download
 * cache, verified, extracted atomically by the unpack stage.
 */
export class StandaloneSource implements DistributionSource {
  readonly kind = 'standalone';

  constructor(
    readonly request: string,
    readonly release: string = DEFAULT_STANDALONE_RELEASE,
    readonly options: { sha256?: string; mirror?: string; triple?: string } = {},
  ) {}

  get triple(): string {
    return this.options.triple ?? standaloneTriple();
  }

  describe(): string {
    return `python-build-standalone CPython ${this.request} (release ${this.release}, ${this.triple})`;
  }

  identity(): string {
    // Release tags are immutable: tag + request + triple (+ pin) decide the bytes.
    return `standalone cpython-${this.request}+${this.release} ${this.triple}${this.options.sha256 ? ` ${this.options.sha256}` : ''}`;
  }

  originPaths(): string[] {
    return [];
  }

  async unpack(dest: string, context: UnpackContext): Promise<UnpackedPython> {
    const offline = context.offline ?? isOffline();
    const asset = await resolveStandaloneAsset({
      request: this.request,
      release: this.release,
      triple: this.triple,
      mirror: standaloneMirror({ spec: this.options.mirror }),
      cacheDir: context.cacheDir,
      pinnedSha256: this.options.sha256,
      offline,
      log: context.log,
    });
    context.log(`CPython ${asset.version} from ${asset.url}`);
    const file = await fetchVerified(asset.url, asset.sha256, context.cacheDir, { offline, log: context.log });
    return unpackPythonArchive(file, asset.url, dest, context, {
      kind: this.kind,
      release: asset.release,
      archive: asset.filename,
      sha256: asset.sha256,
    });
  }
}
