import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { decideLayout, EnvironmentLayoutKind } from './layout';
import { declaredPlatforms, isForeign, TargetPlatform } from './platform';
import { formatPythonRequest, parsePythonRequest, RawPythonRequest, requestedVersion } from './python-request';

/*
 * The lenient reader of the spec model: what the inference plugin needs
 * from a spec, read without processes and without schema validation (it
 * runs for every spec on every Nx command). It is built on the same
 * functions as the strict loader (environment.ts): the Python request's
 * parse and canonical form, and the layout decision. A broken spec gets no
 * runtime here and its own error, naming the file, when a target loads it.
 */

export const ENVIRONMENT_FILE = 'environment.json';

/** What a runtime is built from: the canonical Python request (local paths workspace-relative) and "includeStdlibTests". */
export interface RuntimeRequest {
  python: RawPythonRequest;
  includeStdlibTests: boolean;
  /** Built for another platform than the agent's (absent: the agent's own). */
  platform?: TargetPlatform;
}

/**
 * Where each platform's Python comes from, said once per workspace (the
 * plugin's "pythons" option in nx.json): platform → version → a "python"
 * request (an archive, MSI or NuGet package by sha256, a standalone
 * mirror). Local paths are relative to the workspace root.
 */
export type PythonSources = Partial<Record<TargetPlatform, Record<string, RawPythonRequest>>>;

export interface DeclaredRuntime {
  /** The runtime's Nx project name: `python-3.12`, or `python-<label>-<hash>` for anything but a bare version. */
  project: string;
  request: RuntimeRequest;
}

export interface DeclaredEnvironment {
  /** The environment this one is built on (its spec's "base"), if any. */
  base?: string;
  /** The runtime it runs on: its own, or its base chain's. Undefined for a broken spec or a base cycle. */
  runtime?: DeclaredRuntime;
  layout: EnvironmentLayoutKind;
  /** The base chain, when "base" makes a cycle (the environment's targets report it; the rest of the graph loads). */
  cycle?: string[];
  /** The spec's "platforms" (the agent's when it names none). */
  platforms: TargetPlatform[];
}

/** Where a base environment's spec lives: a sibling folder of the environment built on it. */
export function baseSpecFile(specFile: string, base: string): string {
  return path.join(path.dirname(path.dirname(specFile)), base, ENVIRONMENT_FILE);
}

/** The runtime a spec file asks for; undefined for an environment built on a base (its base's runtime) or an unreadable spec. */
export function declaredRuntime(specFile: string, workspaceRoot: string): DeclaredRuntime | undefined {
  const spec = readSpecLeniently(specFile);
  return spec && runtimeOf(spec, specFile, workspaceRoot);
}

/**
 * What an environment's builds depend on, following "base" to the spec that
 * names a Python (bases are sibling folders), each spec read once: its
 * runtime and its layout, by the one layout decision (layout.ts).
 */
export function declaredEnvironment(specFile: string, workspaceRoot: string, platform: NodeJS.Platform = process.platform): DeclaredEnvironment {
  const chain: Array<{ name: string; spec: Record<string, unknown> }> = [];
  let file = specFile;
  const own = () => ({ platforms: declaredPlatforms(chain[0]?.spec.platforms), ...(typeof chain[0]?.spec.base === 'string' ? { base: chain[0].spec.base as string } : {}) });
  for (;;) {
    const name = path.basename(path.dirname(file));
    if (chain.some((c) => c.name === name)) return { ...own(), layout: decideLayout({ platform }).layout, cycle: [...chain.map((c) => c.name), name] };
    const spec = readSpecLeniently(file);
    if (!spec) return { ...own(), layout: decideLayout({ platform }).layout };
    chain.push({ name, spec });
    if (typeof spec.base === 'string') {
      file = baseSpecFile(file, spec.base);
      continue;
    }
    const runtime = runtimeOf(spec, file, workspaceRoot);
    // The chain's root decides; each environment built on it takes that layout.
    let layout = decideLayout({ intent: layoutIntent(spec.layout), publishTo: publishTo(spec), version: runtime && requestedVersion(parsePythonRequest(runtime.request.python)), platform }).layout;
    for (let i = chain.length - 2; i >= 0; i--) layout = decideLayout({ base: { name: chain[i + 1].name, layout }, publishTo: publishTo(chain[i].spec), platform }).layout;
    return { ...own(), runtime, layout };
  }
}

export function layoutIntent(value: unknown): EnvironmentLayoutKind | undefined {
  return value === 'shared' || value === 'self-contained' ? value : undefined;
}

export function publishTo(spec: Record<string, unknown>): string | undefined {
  const to = (spec.publish as { to?: unknown } | undefined)?.to;
  return typeof to === 'string' ? to : undefined;
}

/** A spec as plain JSON, or undefined when it cannot be read or parsed. */
export function readSpecLeniently(file: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(readFileSync(file, 'utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** A spec's runtime request in canonical form: local paths relative to the workspace, so two specs naming one archive share one runtime. */
export function runtimeOf(spec: Record<string, unknown>, specFile: string, workspaceRoot: string): DeclaredRuntime | undefined {
  if (spec.base !== undefined) return undefined;
  const python = parsePythonRequest(spec.python, (p) => path.resolve(path.dirname(specFile), p));
  if (!python) return undefined;
  const request: RuntimeRequest = {
    python: formatPythonRequest(python, (p) => path.relative(workspaceRoot, p).split(path.sep).join('/')),
    includeStdlibTests: spec.includeStdlibTests === true,
  };
  return { project: runtimeProjectName(request), request };
}

/**
 * `python-3.12`, `python-3.11-windows` (a bare version, on the agent's
 * platform or mapped by the workspace's "pythons"), else
 * `python-<label>[-<platform>]-<hash>`. `asked`: the bare version the spec
 * asked for, when the workspace mapped it to another request.
 */
export function runtimeProjectName(request: RuntimeRequest, asked?: string): string {
  const { python } = request;
  const suffix = request.platform ? `-${request.platform}` : '';
  const bare = asked ?? (typeof python === 'string' && /^[0-9]+(\.[0-9]+){0,2}$/.test(python) ? python : undefined);
  if (bare && /^[0-9]+(\.[0-9]+){0,2}$/.test(bare) && !request.includeStdlibTests) return `python-${bare}${suffix}`;
  const parsed = parsePythonRequest(python);
  const label = !parsed ? 'custom' : parsed.source === 'version' ? parsed.version : parsed.source === 'nuget' ? `nuget-${parsed.version}` : parsed.source;
  const hash = createHash('sha256').update(JSON.stringify(request)).digest('hex').slice(0, 8);
  return `python-${label.replace(/[^A-Za-z0-9._-]+/g, '-')}${suffix}-${hash}`;
}

/**
 * The runtime of `platform` for an environment whose own runtime (the
 * agent's platform) is `runtime`: itself on the agent's platform; for
 * another platform, the request the workspace maps the asked version to
 * ("pythons"), or the spec's own request (an archive or MSI of that
 * platform), with the platform in the request, so in every cache key.
 */
export function runtimeForPlatform(runtime: DeclaredRuntime, platform: TargetPlatform, sources: PythonSources | undefined, workspaceRoot: string): DeclaredRuntime {
  if (!isForeign(platform)) return runtime;
  const parsed = parsePythonRequest(runtime.request.python);
  const asked = parsed?.source === 'version' && !parsed.release && !parsed.sha256 && !parsed.mirror && !parsed.preference ? parsed.version : undefined;
  const mapped = asked !== undefined ? sources?.[platform]?.[asked] : undefined;
  const canonical = mapped === undefined ? undefined : parsePythonRequest(mapped, (p) => path.resolve(workspaceRoot, p));
  const python = canonical ? formatPythonRequest(canonical, (p) => path.relative(workspaceRoot, p).split(path.sep).join('/')) : runtime.request.python;
  const request: RuntimeRequest = { python, includeStdlibTests: runtime.request.includeStdlibTests, platform };
  return { project: runtimeProjectName(request, asked), request };
}
