import * as path from 'node:path';
import { resolveDistribution } from '../distribution';
import { DistributionSource } from '../distribution/source';
import { PydepotError } from '../errors';
import { hostPlatform } from '../interpreter/discover';
import { RuntimeRequest } from '../model/declared';
import { isForeign } from '../model/platform';
import { describePythonRequest, parsePythonRequest } from '../model/python-request';

/*
 * A runtime request resolved to its distribution, and the distribution's
 * identity: what the plugin hashes into every stage built on the runtime
 * (preTasksExecution, on every run), so this module loads only what resolving
 * needs, not the runtime build.
 */

/**
 * The DistributionSource of a runtime request, local archive paths resolved
 * against the workspace. `specFiles`: the specs that ask for it, named when
 * the request cannot be met (no such CPython installed, a bad preference).
 */
export function runtimeSource(request: RuntimeRequest, workspaceRoot: string, specFiles: string[] = []): DistributionSource {
  const python = parsePythonRequest(request.python, (p) => path.resolve(workspaceRoot, p));
  if (!python) throw new PydepotError(`the runtime request ${JSON.stringify(request.python)} is none of the forms of "python"`, { hint: 'see "python" in docs/ENVIRONMENTS.md' });
  if (request.platform && isForeign(request.platform) && python.source === 'version') {
    const named = specFiles.map((f) => path.relative(workspaceRoot, f) || f);
    throw new PydepotError(`${named.length ? `${named.join(', ')}: ` : ''}no ${request.platform} CPython ${python.version} is configured for this workspace: a version number names an installed or downloaded Python of this agent's platform only`, {
      path: path.join(workspaceRoot, 'nx.json'),
      hint: `say once where it comes from, in nx.json's pydepot plugin entry: "options": {"pythons": {"${request.platform}": {"${python.version}": {"nuget": "<version>", "sha256": "<sha256>"}}}} (or an "archive" or "msi" by sha256; docs/WINDOWS.md)`,
    });
  }
  try {
    return resolveDistribution(python);
  } catch (error) {
    if (!specFiles.length || !(error instanceof PydepotError)) throw error;
    const named = specFiles.map((f) => path.relative(workspaceRoot, f) || f);
    throw new PydepotError(`${named.join(', ')}: field "python" asks for ${describePythonRequest(python)}: ${error.message}`, { path: specFiles[0], hint: error.hint });
  }
}

/** What identifies a runtime request's distribution, for cache keys (never throws: an error still hashes). */
export function runtimeIdentity(request: RuntimeRequest, workspaceRoot: string): string {
  try {
    return identityOf(runtimeSource(request, workspaceRoot), request);
  } catch (error) {
    return `unresolved ${hostPlatform()} ${(error as Error).message.split('\n')[0]}`;
  }
}

/** A resolved request's identity: its distribution's, whether CPython's test suite is kept, and the platform it is built for. */
export function identityOf(source: DistributionSource, request: RuntimeRequest): string {
  return `${source.identity()}${request.includeStdlibTests ? ' +stdlib-tests' : ''}${request.platform ? ` for ${request.platform}` : ''}`;
}

