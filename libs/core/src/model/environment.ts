import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { baseSpecFile, ENVIRONMENT_FILE } from './declared';
import { validateJson } from './json-schema';
import { findDuplicateKey } from './json-text';
import { decideLayout, EnvironmentLayoutKind } from './layout';
import { hostTargetPlatform, isForeign, TargetPlatform } from './platform';
import { PublisherKind } from './registry';
import { dropUndefined, isUrl, parsePythonRequest, PythonPreference, PythonRequest, requestedVersion } from './python-request';
import { checkPackages, checkRequirementsFile } from './requirements';
import schema from './environment.schema.json';

export const DEFAULT_INDEX_URL = 'https://pypi.org/simple';

export { ENVIRONMENT_FILE, baseSpecFile };
export type { EnvironmentLayoutKind, PythonPreference, PythonRequest };
export { PYTHON_PREFERENCES, isUrl, parsePythonRequest, formatPythonRequest, describePythonRequest } from './python-request';

/** The layout when a spec names nothing else (the platform's default). */
export function defaultLayout(platform: NodeJS.Platform = process.platform): EnvironmentLayoutKind {
  return decideLayout({ platform }).layout;
}

/** The spec's layout by the one decision (layout.ts); a contradiction in the spec is an error naming the file. */
function specLayout(file: string, spec: Record<string, any>, base?: EnvironmentSpec): EnvironmentLayoutKind {
  const decision = base
    ? decideLayout({ base: { name: base.name, layout: base.layout }, publishTo: spec.publish?.to })
    : decideLayout({ intent: spec.layout, publishTo: spec.publish?.to, version: spec.python === undefined ? undefined : requestedVersion(parsePythonRequest(spec.python)) });
  if (decision.conflict) throw new PydepotError(`${file}: ${decision.conflict.message}`, { path: file, hint: decision.conflict.hint });
  return decision.layout;
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
  /** The platforms it is published for (default: the build agent's); see platform.ts. */
  platforms: TargetPlatform[];
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
  /** The spec's "publish": `to` and `depot` for everyone, the rest for the publisher that reads it (publish/index.ts PublisherSettings). */
  publish: { to?: PublisherKind; depot?: string } & Record<string, unknown>;
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
  const duplicate = findDuplicateKey(text);
  if (duplicate) {
    throw new PydepotError(`${file}: field "${duplicate.field}" is given twice (line ${duplicate.line}); JSON keeps only the last, silently`, {
      path: file,
      hint: `keep one "${duplicate.key}" in that object`,
    });
  }
  const issues = validateJson(raw, schema);
  if (issues.length > 0) {
    const lines = issues.map((i) => `  - field "${i.field}" ${i.message}`);
    throw new PydepotError(`${file}: invalid environment spec:\n${lines.join('\n')}`, {
      path: file,
      hint: 'see libs/core/src/model/environment.schema.json for every field and its allowed values',
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
  const python = base ? base.python : parsePythonRequest(spec.python, fromHere)!;
  const platforms = checkPlatforms(file, spec, base);
  // Before any stage runs: a typo, a URL or a redirected package source fails here, in a second.
  checkPackages(file, spec.packages ?? []);
  (spec.requirements ?? []).forEach((r: string, i: number) => checkRequirementsFile(path.resolve(dir, r), `requirements[${i}]`, file));
  return {
    file,
    name,
    description: spec.description,
    base: base && { name: spec.base, file: base.file },
    python,
    platforms,
    packages: spec.packages ?? [],
    requirements: (spec.requirements ?? []).map((r: string) => path.resolve(dir, r)),
    installer: spec.installer,
    pythonPath: spec.pythonPath ?? 'ignore',
    layout: specLayout(file, spec, base),
    index: {
      url: spec.index?.url ?? DEFAULT_INDEX_URL,
      extraUrls: spec.index?.extraUrls ?? [],
      findLinks: (spec.index?.findLinks ?? []).map(fromHere),
      noIndex: spec.index?.noIndex ?? false,
    },
    includeStdlibTests: base ? base.includeStdlibTests : (spec.includeStdlibTests ?? false),
    verify: { imports: spec.verify?.imports ?? [], commands: spec.verify?.commands ?? [], ...(spec.verify?.importPackages ? { importPackages: true, packages: (spec.packages ?? []).map(requirementName) } : {}) },
    // Publisher settings as the schema allows them; each publisher reads its own (publish/index.ts).
    publish: dropUndefined({ ...(spec.publish ?? {}) }),
  };
}

/**
 * "platforms": a platform other than the agent's is built here for a
 * directory depot (shared: its runtime beside it; or self-contained: a
 * private copy), pydepot's launcher cross-compiled; what is not supported
 * yet is refused with what to do instead.
 */
function checkPlatforms(file: string, spec: Record<string, any>, base: EnvironmentSpec | undefined): TargetPlatform[] {
  const platforms: TargetPlatform[] = spec.platforms ?? base?.platforms ?? [hostTargetPlatform()];
  const foreign = platforms.filter((p) => isForeign(p));
  if (!foreign.length) return platforms;
  const refuse = (message: string, hint: string) => {
    throw new PydepotError(`${file}: field "platforms" lists ${foreign.join(', ')}, ${message}`, { path: file, hint });
  };
  if (spec.base !== undefined) refuse(`which an environment built on a base cannot be built for on this agent yet`, `list every package in this environment and remove "base", or build it on a ${foreign[0]} agent`);
  const to = spec.publish?.to ?? 'directory';
  if (to !== 'directory') refuse(`but "publish.to" is "${to}": versions for another platform are published to a directory depot (their runtime lives beside them)`, 'publish to a directory depot (remove "publish.to"), or build on an agent of that platform');
  return platforms;
}

/** "Pillow[extra]==11.3 ; python_version>'3'" → "Pillow". */
export function requirementName(requirement: string): string {
  return /^\s*([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(requirement)?.[1] ?? requirement.trim();
}
