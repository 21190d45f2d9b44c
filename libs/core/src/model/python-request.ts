import { PYTHON_SOURCES } from './registry';

/*
 * The one Python request. A spec's "python" field, an executor's `python`
 * option and a runtime manifest's request are all the same thing in the
 * same canonical form: `formatPythonRequest` writes it, `parsePythonRequest`
 * reads it back (a tested round trip), and nothing else interprets the raw
 * field. Local archive paths are the only context-dependent part: the
 * caller says what they are relative to (the spec's folder when a spec is
 * loaded, the workspace root in the canonical form).
 */

/** How a bare version is satisfied: see docs/DISTRIBUTIONS.md. */
export type PythonPreference = 'installed' | 'standalone' | 'auto';
export const PYTHON_PREFERENCES: PythonPreference[] = ['installed', 'standalone', 'auto'];

/** What the `python` field asks for, normalised. A new source adds a member here and a name in registry.ts. */
export type PythonRequest =
  | {
      source: 'version';
      version: string;
      /** Unset: the workspace preference decides (PYDEPOT_PYTHON_PREFERENCE). */
      preference?: PythonPreference;
      release?: string;
      sha256?: string;
      mirror?: string;
    }
  | { source: 'archive'; archive: string; sha256: string }
  | { source: 'msi'; msi: string; sha256: string }
  | { source: 'nuget'; version: string; sha256: string; package?: string; feed?: string };

/** The raw form: what a spec's "python" field and the runtime executor's `python` option hold. */
export type RawPythonRequest = string | Record<string, unknown>;

const URL = /^[a-z][a-z0-9+.-]*:\/\//i;
export function isUrl(p: string): boolean {
  return URL.test(p);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * A raw "python" value as a request; `resolvePath` maps a local archive or
 * MSI path (URLs are kept). Undefined for a value that is none of the forms
 * (the strict loader has already named the field with the schema's message;
 * the lenient reader draws no runtime for it).
 */
export function parsePythonRequest(raw: unknown, resolvePath: (p: string) => string = (p) => p): PythonRequest | undefined {
  const local = (p: string) => (isUrl(p) ? p : resolvePath(p));
  if (typeof raw === 'string') return raw ? { source: 'version', version: raw } : undefined;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return undefined;
  const r = raw as Record<string, unknown>;
  const kind = PYTHON_SOURCES.find((s) => s !== 'version' && s in r) ?? 'version';
  switch (kind) {
    case 'archive':
      return str(r.archive) && str(r.sha256) ? { source: 'archive', archive: local(r.archive as string), sha256: r.sha256 as string } : undefined;
    case 'msi':
      return str(r.msi) && str(r.sha256) ? { source: 'msi', msi: local(r.msi as string), sha256: r.sha256 as string } : undefined;
    case 'nuget':
      return str(r.nuget) && str(r.sha256) ? dropUndefined({ source: 'nuget' as const, version: r.nuget as string, sha256: r.sha256 as string, package: str(r.package), feed: str(r.feed) }) : undefined;
    case 'version':
      return str(r.version)
        ? dropUndefined({ source: 'version' as const, version: r.version as string, preference: str(r.source) as PythonPreference | undefined, release: str(r.release), sha256: str(r.sha256), mirror: str(r.mirror) })
        : undefined;
  }
}

/**
 * The canonical raw form of a request: a bare version as a string, anything
 * else as an object with its keys sorted; `relativePath` maps a local path
 * (to workspace-relative POSIX paths, for the canonical form). Two specs that
 * mean the same Python give the same string, so they share one runtime.
 */
export function formatPythonRequest(request: PythonRequest, relativePath: (p: string) => string = (p) => p): RawPythonRequest {
  const local = (p: string) => (isUrl(p) ? p : relativePath(p));
  let fields: Record<string, unknown>;
  switch (request.source) {
    case 'version': {
      const { version, preference, release, sha256, mirror } = request;
      if (preference === undefined && release === undefined && sha256 === undefined && mirror === undefined) return version;
      fields = { version, source: preference, release, sha256, mirror };
      break;
    }
    case 'archive':
      fields = { archive: local(request.archive), sha256: request.sha256 };
      break;
    case 'msi':
      fields = { msi: local(request.msi), sha256: request.sha256 };
      break;
    case 'nuget':
      fields = { nuget: request.version, sha256: request.sha256, package: request.package, feed: request.feed };
      break;
  }
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  );
}

/** One line for messages: `CPython 3.12`, `CPython from archive python.tar.gz`. */
export function describePythonRequest(request: PythonRequest): string {
  switch (request.source) {
    case 'version':
      return `CPython ${request.version}${request.preference ? ` (${request.preference})` : ''}`;
    case 'archive':
      return `CPython from the archive ${request.archive}`;
    case 'msi':
      return `CPython from the MSI ${request.msi}`;
    case 'nuget':
      return `CPython from the NuGet package ${request.package ?? 'python'} ${request.version}`;
  }
}

/** The CPython version a request names, when it names one ("3.12", "3.12.7"). */
export function requestedVersion(request: PythonRequest | undefined): string | undefined {
  return request && (request.source === 'version' || request.source === 'nuget') ? request.version : undefined;
}

export function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
