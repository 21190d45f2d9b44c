import { ProcessError } from '../errors';
import { expandIndexCredentials } from './credentials';
import { IndexSettings } from '../model/environment';

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
