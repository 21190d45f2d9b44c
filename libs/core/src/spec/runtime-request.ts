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
  const spec = readSpec(specFile);
  return spec && runtimeOf(spec, specFile, workspaceRoot);
}

/**
 * What an environment's builds depend on, following "base" to the spec that
 * names a Python (bases are sibling folders), each spec read once: its
 * runtime and its layout. The layout mirrors spec/environment.ts (a base's
 * layout; git and archive publishes self-contained; shared where the spec
 * allows it) and pipeline/runtime.ts `canShare` (CPython 3.10+).
 */
export function declaredEnvironment(specFile: string, workspaceRoot: string, platform: NodeJS.Platform = process.platform): { runtime?: DeclaredRuntime; layout: 'shared' | 'self-contained' } {
  const fallback = platform === 'win32' ? 'self-contained' : 'shared';
  let file = specFile;
  for (let hops = 0; hops < 32; hops++) {
    const spec = readSpec(file);
    if (!spec) return { layout: fallback };
    if (typeof spec.base === 'string') {
      file = path.join(path.dirname(path.dirname(file)), spec.base, 'environment.json');
      continue;
    }
    const runtime = runtimeOf(spec, file, workspaceRoot);
    const to = (spec.publish as { to?: unknown } | undefined)?.to;
    const version = typeof spec.python === 'string' ? spec.python : (spec.python as { version?: unknown } | undefined)?.version;
    const [major, minor] = typeof version === 'string' ? version.split('.').map(Number) : [];
    const unshareable = (to !== undefined && to !== 'directory') || (major === 3 && minor < 10);
    const layout = unshareable || spec.layout === 'self-contained' ? 'self-contained' : spec.layout === 'shared' ? 'shared' : fallback;
    return { runtime, layout };
  }
  return { layout: fallback }; // a cycle: reported by the plugin's createDependencies
}

function readSpec(file: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function runtimeOf(spec: Record<string, unknown>, specFile: string, workspaceRoot: string): DeclaredRuntime | undefined {
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
