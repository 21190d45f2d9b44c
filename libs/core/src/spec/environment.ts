import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { validateJson } from './json-schema';
import { checkPackages, checkRequirementsFile } from './requirements';
import schema from './environment.schema.json';

export const ENVIRONMENT_FILE = 'environment.json';
export const DEFAULT_INDEX_URL = 'https://pypi.org/simple';

/** How a bare version is satisfied: see docs/DISTRIBUTIONS.md. */
export type PythonPreference = 'installed' | 'standalone' | 'auto';
export const PYTHON_PREFERENCES: PythonPreference[] = ['installed', 'standalone', 'auto'];

/** What the `python` field asks for, normalised. New sources add a member here. */
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

export type EnvironmentLayoutKind = 'shared' | 'self-contained';

/** The layout when the spec names none: shared where the launcher runs (POSIX), self-contained elsewhere. */
export function defaultLayout(platform: NodeJS.Platform = process.platform): EnvironmentLayoutKind {
  return platform === 'win32' ? 'self-contained' : 'shared';
}

/**
 * Shared runtimes live beside the environments in a depot folder; git and
 * archive publishers carry each environment whole, so their environments are
 * self-contained.
 */
function specLayout(file: string, spec: Record<string, any>): EnvironmentLayoutKind {
  const to = spec.publish?.to ?? 'directory';
  if (to === 'directory') return spec.layout ?? defaultLayout();
  if (spec.layout === 'shared') {
    throw new PydepotError(`${file}: field "layout" is "shared", but "publish.to" is "${to}": shared runtimes live beside the environments in a depot folder`, {
      path: file,
      hint: `remove "layout" (a ${to} publish carries a self-contained environment) or publish to a directory depot`,
    });
  }
  return 'self-contained';
}

export interface IndexSettings {
  url: string;
  extraUrls: string[];
  /** Absolute folders or URLs. */
  findLinks: string[];
  noIndex: boolean;
}

export interface EnvironmentSpec {
  /** Absolute path of the environment.json it came from. */
  file: string;
  name: string;
  description?: string;
  /** The environment this one is built on (its Python and packages come first). */
  base?: { name: string; file: string };
  /** The base's, for an environment built on a base. */
  python: PythonRequest;
  packages: string[];
  /** Absolute paths. */
  requirements: string[];
  installer?: 'pip' | 'uv';
  /** PYTHONPATH from the launching process: ignored (default) or appended to sys.path (docs/HOST-APPS.md). */
  pythonPath: 'ignore' | 'append';
  /** Where the interpreter lives when published: in the depot's shared runtimes, or in the environment (docs/RELOCATION.md). */
  layout: EnvironmentLayoutKind;
  index: IndexSettings;
  includeStdlibTests: boolean;
  verify: { imports: string[]; commands: string[][]; importPackages?: boolean; packages?: string[] };
  publish: { to?: 'directory' | 'git' | 'archive'; depot?: string; keep?: number; keepDays?: number; groupWritable?: boolean; branch?: string; lfs?: boolean; formats?: Array<'tar.zst' | 'zip'> };
}

/** Read and validate an environment.json. Errors name the file and the field. */
export function loadEnvironmentSpec(file: string, name = path.basename(path.dirname(path.resolve(file))), chain?: string[]): EnvironmentSpec {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (error) {
    throw new PydepotError(`cannot read environment spec ${abs}: ${(error as Error).message}`, {
      path: abs,
      hint: `each environment needs an ${ENVIRONMENT_FILE} (see docs/ENVIRONMENTS.md)`,
    });
  }
  return parseEnvironmentSpec(text, abs, name, chain);
}

/** Where a base environment's spec lives: a sibling folder of the environment built on it. */
export function baseSpecFile(specFile: string, base: string): string {
  return path.join(path.dirname(path.dirname(specFile)), base, ENVIRONMENT_FILE);
}

function loadBaseSpec(file: string, base: string, chain: string[]): EnvironmentSpec {
  if (chain.includes(base)) {
    throw new PydepotError(`${file}: field "base" makes a cycle: ${[...chain, base].join(' → ')}`, { path: file, hint: 'an environment cannot be built on itself, directly or through others' });
  }
  const baseFile = baseSpecFile(file, base);
  if (!existsSync(baseFile)) {
    throw new PydepotError(`${file}: field "base" names "${base}", but there is no ${baseFile}`, {
      path: file,
      hint: 'name the folder of another environment next to this one',
    });
  }
  return loadEnvironmentSpec(baseFile, base, chain);
}

/**
 * Environment (and Nx project, and depot folder) names: safe on every OS and
 * share. Lower case (shares are often case-insensitive, so "Tool" and "tool"
 * would collide), no spaces or shell characters, not a Windows device name.
 */
export const ENVIRONMENT_NAME = /^[a-z0-9](?:[a-z0-9._-]{0,62}[a-z0-9])?$/;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/;

export function checkEnvironmentName(name: string, file: string): void {
  if (ENVIRONMENT_NAME.test(name) && !WINDOWS_RESERVED.test(name)) return;
  throw new PydepotError(`${file}: the environment's folder name "${name}" cannot be used: it names the Nx project and the depot folder, which must be safe on every OS and share`, {
    path: file,
    hint: `rename the folder: lower-case letters, digits, ".", "_" and "-", starting and ending with a letter or digit, at most 64 characters, not a Windows device name (con, nul, com1, …)${ENVIRONMENT_NAME.test(name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')) ? `; e.g. "${name.toLowerCase().replace(/[^a-z0-9._-]+/g, '-')}"` : ''}`,
  });
}

export function parseEnvironmentSpec(text: string, file: string, name: string, chain?: string[]): EnvironmentSpec {
  checkEnvironmentName(name, file);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new PydepotError(`${file}: not valid JSON: ${(error as Error).message}`, {
      path: file,
      hint: 'fix the JSON syntax (an editor that knows environment.schema.json points at it)',
    });
  }
  const issues = validateJson(raw, schema);
  if (issues.length > 0) {
    const lines = issues.map((i) => `  - field "${i.field}" ${i.message}`);
    throw new PydepotError(`${file}: invalid environment spec:\n${lines.join('\n')}`, {
      path: file,
      hint: 'see libs/core/src/spec/environment.schema.json for every field and its allowed values',
    });
  }
  const spec = raw as Record<string, any>;
  const dir = path.dirname(file);
  const fromHere = (p: string) => (isUrl(p) ? p : path.resolve(dir, p));
  let base: EnvironmentSpec | undefined;
  if (spec.base !== undefined) {
    if (spec.python !== undefined) {
      throw new PydepotError(`${file}: field "python" cannot be combined with "base" (an environment built on "${spec.base}" runs its Python)`, {
        path: file,
        hint: 'remove "python", or remove "base" and list every package',
      });
    }
    base = loadBaseSpec(file, spec.base, [...(chain ?? []), name]);
  } else if (spec.python === undefined) {
    throw new PydepotError(`${file}: invalid environment spec:\n  - field "python" is required (or "base", to build on another environment)`, {
      path: file,
      hint: 'add "python": "3.12" (see docs/ENVIRONMENTS.md)',
    });
  }
  const python = base ? base.python : parsePythonRequest(spec.python, fromHere);
  // Before any stage runs: a typo, a URL or a redirected package source fails here, in a second.
  checkPackages(file, spec.packages ?? []);
  (spec.requirements ?? []).forEach((r: string, i: number) => checkRequirementsFile(path.resolve(dir, r), `requirements[${i}]`, file));
  return {
    file,
    name,
    description: spec.description,
    base: base && { name: spec.base, file: base.file },
    python,
    packages: spec.packages ?? [],
    requirements: (spec.requirements ?? []).map((r: string) => path.resolve(dir, r)),
    installer: spec.installer,
    pythonPath: spec.pythonPath ?? 'ignore',
    layout: base ? base.layout : specLayout(file, spec),
    index: {
      url: spec.index?.url ?? DEFAULT_INDEX_URL,
      extraUrls: spec.index?.extraUrls ?? [],
      findLinks: (spec.index?.findLinks ?? []).map(fromHere),
      noIndex: spec.index?.noIndex ?? false,
    },
    includeStdlibTests: base ? base.includeStdlibTests : (spec.includeStdlibTests ?? false),
    verify: { imports: spec.verify?.imports ?? [], commands: spec.verify?.commands ?? [], ...(spec.verify?.importPackages ? { importPackages: true, packages: (spec.packages ?? []).map(requirementName) } : {}) },
    publish: dropUndefined({
      to: spec.publish?.to,
      depot: spec.publish?.depot,
      keep: spec.publish?.keep,
      keepDays: spec.publish?.keepDays,
      groupWritable: spec.publish?.groupWritable,
      branch: spec.publish?.branch,
      lfs: spec.publish?.lfs,
      formats: spec.publish?.formats,
    }),
  };
}

export function parsePythonRequest(raw: string | Record<string, any>, fromHere: (p: string) => string): PythonRequest {
  if (typeof raw === 'string') return { source: 'version', version: raw };
  if ('archive' in raw) return { source: 'archive', archive: fromHere(raw.archive), sha256: raw.sha256 };
  if ('msi' in raw) return { source: 'msi', msi: fromHere(raw.msi), sha256: raw.sha256 };
  if ('nuget' in raw) return dropUndefined({ source: 'nuget', version: raw.nuget, sha256: raw.sha256, package: raw.package, feed: raw.feed });
  return dropUndefined({ source: 'version', version: raw.version, preference: raw.source, release: raw.release, sha256: raw.sha256, mirror: raw.mirror });
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** "Pillow[extra]==11.3 ; python_version>'3'" → "Pillow". */
export function requirementName(requirement: string): string {
  return /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(requirement)?.[1] ?? requirement.trim();
}

export function isUrl(p: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(p);
}
