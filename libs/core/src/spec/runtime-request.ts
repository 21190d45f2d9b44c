import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

/*
 * Which runtime an environment spec asks for, read leniently and without
 * processes: the inference plugin calls this for every spec on every Nx
 * command, so it imports nothing heavy (no schema validation: a broken spec
 * gets no runtime edge here and its own error when a target loads it).
 */

/** What a runtime is built from: the spec's "python" (local paths workspace-relative) and "includeStdlibTests". */
export interface RuntimeRequest {
  python: string | Record<string, unknown>;
  includeStdlibTests: boolean;
}

export interface DeclaredRuntime {
  /** The runtime's Nx project name: `python-3.12`, or `python-<label>-<hash>` for anything but a bare version. */
  project: string;
  request: RuntimeRequest;
}

const PATH_FIELDS = ['archive', 'msi'];
const URL = /^[a-z][a-z0-9+.-]*:\/\//i;

/** The runtime a spec file asks for; undefined for an environment built on a base (its base's runtime) or an unreadable spec. */
export function declaredRuntime(specFile: string, workspaceRoot: string): DeclaredRuntime | undefined {
  let spec: Record<string, unknown>;
  try {
    spec = JSON.parse(readFileSync(specFile, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (spec.base !== undefined || spec.python === undefined) return undefined;
  const raw = spec.python;
  let python: RuntimeRequest['python'];
  if (typeof raw === 'string') python = raw;
  else if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    // Local archives are relative to their spec: name them from the workspace, so two specs share one runtime.
    const fields = { ...(raw as Record<string, unknown>) };
    for (const key of PATH_FIELDS) {
      const value = fields[key];
      if (typeof value === 'string' && !URL.test(value)) {
        fields[key] = path.relative(workspaceRoot, path.resolve(path.dirname(specFile), value)).split(path.sep).join('/');
      }
    }
    python = Object.fromEntries(Object.entries(fields).sort(([a], [b]) => a.localeCompare(b)));
  } else return undefined;
  const request: RuntimeRequest = { python, includeStdlibTests: spec.includeStdlibTests === true };
  return { project: runtimeProjectName(request), request };
}

export function runtimeProjectName(request: RuntimeRequest): string {
  const { python } = request;
  if (typeof python === 'string' && /^[0-9]+(\.[0-9]+){0,2}$/.test(python) && !request.includeStdlibTests) return `python-${python}`;
  const label =
    typeof python === 'string'
      ? python
      : typeof python.version === 'string'
        ? python.version
        : typeof python.nuget === 'string'
          ? `nuget-${python.nuget}`
          : 'archive' in python
            ? 'archive'
            : 'msi' in python
              ? 'msi'
              : 'custom';
  const hash = createHash('sha256').update(JSON.stringify(request)).digest('hex').slice(0, 8);
  return `python-${label.replace(/[^A-Za-z0-9._-]+/g, '-')}-${hash}`;
}
