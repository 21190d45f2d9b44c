import { ProcessError, PydepotError } from '../errors';
import { IndexSettings, requirementName } from '../model/environment';
import { expandIndexCredentials } from './credentials';

export interface InstallRequest {
  packages: string[];
  requirementFiles: string[];
  index: IndexSettings;
  cacheDir: string;
  /** Environment name, for messages. */
  environment: string;
  /** The spec file, for messages. */
  specFile: string;
  /** Install exactly the (locked) requirements: every artifact must match a listed hash, no dependency is added. */
  requireHashes?: boolean;
  /** Install only what is named, no dependencies. */
  noDeps?: boolean;
  /** Constraints files (`name==version` lines): the base environment's packages keep their versions. */
  constraintFiles?: string[];
  /**
   * An environment of another platform (a Windows version built on Linux):
   * the agent's CPython of its version runs the installer, which resolves
   * binary wheels for that platform only and unpacks them into its
   * site-packages (`--target`). Scripts are the caller's to write.
   */
  foreign?: ForeignTarget;
}

export interface ForeignTarget {
  /** The agent's CPython of the environment's version. */
  python: string;
  /** Absolute site-packages folder of the environment. */
  sitePackages: string;
  /** "3.11". */
  version: string;
  /** pip's platform tag ("win_amd64") and uv's ("x86_64-pc-windows-msvc"). */
  pipPlatform: string;
  uvPlatform: string;
}

/** What pip and uv say when no wheel of a package fits the platform: the package, named for the message. */
export function missingWheel(text: string): string | undefined {
  const output = text.replace(/\x1b\[[0-9;]*m/g, ''); // pip colours its errors
  return (
    /No matching distribution found for (\S+)/.exec(output)?.[1] ?? // pip
    /Because ([A-Za-z0-9][A-Za-z0-9._-]*)\S* has no usable wheels/.exec(output)?.[1] ?? // uv
    /Wheels are required for `([^`]+)`/.exec(output)?.[1]
  );
}

/**
 * Installs packages into an environment by name. pip today; uv slots in
 * behind the same interface, so executors never branch on the installer.
 */
export interface Installer {
  readonly name: string;
  install(root: string, request: InstallRequest): Promise<void>;
}

/**
 * A failed installer process, re-thrown with the hint every installer gives.
 * pip reports an index that refuses its credentials as "no versions found",
 * so when the output does not say why, the index is asked directly.
 */
export async function installFailure(error: unknown, request: InstallRequest): Promise<unknown> {
  if (!(error instanceof ProcessError)) return error;
  const foreign = request.foreign;
  const missing = foreign && missingWheel(error.output);
  if (foreign && missing) {
    return new PydepotError(`${request.specFile}: package ${missing} has no ${foreign.pipPlatform} wheel for CPython ${foreign.version} (environment "${request.environment}"): a version for another platform is installed from binary wheels only, nothing is built from source`, {
      path: request.specFile,
      hint: `pin a version of ${requirementName(missing)} that publishes a ${foreign.pipPlatform} wheel for CPython ${foreign.version} (see its files on the index), or build the wheel on a Windows agent and put it in a folder listed in "index.findLinks"; nothing was published`,
    });
  }
  const refused = /\b401\b|Unauthorized|403 Forbidden/i.test(error.output) || (!request.index.noIndex && (await indexRefuses(request)));
  const hint = refused
    ? `the index refused the credentials: check the \${VARIABLE} placeholders of "index" in ${request.specFile} and the values the build agent sets for them, or its netrc file (~/.netrc or NETRC); nothing was published`
    : `check the package names and versions in ${request.specFile} ("packages", "requirements") and that ${request.index.noIndex ? 'the find-links folders hold them' : `the index ${request.index.url} serves them`}; nothing was published`;
  return new ProcessError(error.message, error.command, error.exitCode, error.output, { hint });
}

/** Does the index answer 401/403 to the credentials in its URL? Unknown (network trouble) counts as no. */
async function indexRefuses(request: InstallRequest): Promise<boolean> {
  try {
    const url = new URL(expandIndexCredentials(request.index, request.specFile).url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    const headers: Record<string, string> = {};
    if (url.username) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
    url.username = '';
    url.password = '';
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
    await response.body?.cancel();
    return response.status === 401 || response.status === 403;
  } catch {
    return false;
  }
}
