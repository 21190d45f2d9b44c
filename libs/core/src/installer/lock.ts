import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { siblingTempPath, writeFileAtomic } from '../fs/atomic';
import { standaloneTriple } from '../distribution/standalone';
import { isolatedPythonEnv } from '../process/python-env';
import { run } from '../process/run';
import { EnvironmentSpec, isUrl } from '../model/environment';
import { TargetPlatform, WHEEL_PLATFORMS } from '../model/platform';
import { ensureWheelTool, UV } from '../tools/tool-cache';
import { installFailure } from './installer';
import type { EnvironmentManifest } from '../environment/manifest';
import type { BuiltWheel } from '../library/wheel';
import { normalizeName, requirementName } from '../library/pyproject';
import { sourceArgs } from './pip';

/**
 * An environment's lock: every package, pinned, with the sha256 of every
 * artifact allowed for it, resolved for the environment's Python version and
 * platform. It is hashed requirements (`name==1.2 --hash=sha256:…`) rather
 * than PEP 751's pylock.toml because both installers must read it: uv writes
 * pylock.toml, but pip cannot install from one yet. The first line records a
 * fingerprint of the inputs (packages, requirements files' contents, index
 * settings, Python version, platform), so a lock that no longer matches its
 * spec is reported instead of being silently re-resolved.
 */
export const LOCK_FILE = 'requirements.lock';
const HEADER = '# pydepot lock: inputs ';

/** `requirements.lock`; another platform's lock beside it: `requirements.windows.lock`. */
export function lockPath(spec: EnvironmentSpec, platform?: TargetPlatform): string {
  return path.join(path.dirname(spec.file), platform ? LOCK_FILE.replace(/\.lock$/, `.${platform}.lock`) : LOCK_FILE);
}

/** The platform a lock is resolved for: the agent's (python-build-standalone's triple), or another one's wheel platform. */
function lockTriple(platform?: TargetPlatform): string {
  return platform ? WHEEL_PLATFORMS[platform].uv : standaloneTriple();
}

/**
 * What else a lock is resolved against. `constraints`: a base environment's
 * packages (`name==version`), which the lock must agree with. `local`:
 * in-repo packages (names and their wheel folders): resolved with the rest,
 * so their dependencies are locked, but left out of the lock themselves —
 * their wheel changes with every edit and is built from reviewed source in
 * the same commit; pip check catches a dependency they add later.
 */
export interface LockContext {
  constraints?: string[];
  local?: Array<{ name: string; dir: string }>;
}

/** What a lock of this environment is resolved against (see LockContext). */
export function lockContext(manifest: EnvironmentManifest, local: BuiltWheel[]): LockContext {
  return {
    constraints: manifest.base ? manifest.packages.map((p) => `${p.name}==${p.version}`) : [],
    local: local.map((w) => ({ name: w.name, dir: path.dirname(w.file) })),
  };
}

/** What the lock was resolved from; the same on every machine and in every clone. */
export function lockFingerprint(spec: EnvironmentSpec, pythonVersion: string, triple: string, context: LockContext = {}): string {
  const dir = path.dirname(spec.file);
  const portable = (p: string) => (isUrl(p) ? p : path.relative(dir, p).split(path.sep).join('/'));
  const inputs = {
    packages: spec.packages,
    requirements: spec.requirements.map((file) => ({ file: portable(file), text: readFileSync(file, 'utf8') })),
    index: { ...spec.index, findLinks: spec.index.findLinks.map(portable) },
    python: pythonVersion.split('.').slice(0, 2).join('.'),
    triple,
    ...(context.constraints?.length ? { constraints: [...context.constraints].sort() } : {}),
    ...(context.local?.length ? { local: context.local.map((l) => normalizeName(l.name)).sort() } : {}),
  };
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 32);
}

/** Resolve the spec into its lock file with uv (pinned), hashes included. */
export async function lockEnvironment(options: { spec: EnvironmentSpec; pythonVersion: string; cacheDir: string; log: (m: string) => void; context?: LockContext; platform?: TargetPlatform }): Promise<string> {
  const { spec, platform } = options;
  const context = options.context ?? {};
  const triple = lockTriple(platform);
  const minor = options.pythonVersion.split('.').slice(0, 2).join('.');
  const target = lockPath(spec, platform);
  const input = siblingTempPath(path.join(path.dirname(target), 'requirements.in'));
  const constraints = siblingTempPath(path.join(path.dirname(target), 'constraints.txt'));
  const uv = await ensureWheelTool(UV);
  const index = { ...spec.index, findLinks: [...spec.index.findLinks, ...(context.local ?? []).map((l) => l.dir)] };
  const request = {
    packages: spec.packages,
    requirementFiles: spec.requirements,
    constraintFiles: context.constraints?.length ? [constraints] : [],
    index,
    cacheDir: options.cacheDir,
    environment: spec.name,
    specFile: spec.file,
  };
  // Everything to resolve goes into one input file: the spec's packages and its requirements files.
  const sources = sourceArgs(request);
  const indexArgs: string[] = [];
  const wanted: string[] = [];
  for (let i = 0; i < sources.length; i++) {
    if (sources[i] === '-r' || sources[i] === '-c') wanted.push(`${sources[i]} ${sources[++i]}`);
    else if (sources[i].startsWith('--')) {
      indexArgs.push(sources[i]);
      if (sources[i] !== '--no-index') indexArgs.push(sources[++i]);
    } else wanted.push(sources[i]);
  }
  options.log(`resolving ${spec.packages.join(', ') || 'requirements'} for CPython ${minor} on ${triple}`);
  try {
    await fs.writeFile(input, `${wanted.join('\n')}\n`);
    if (context.constraints?.length) await fs.writeFile(constraints, `${context.constraints.join('\n')}\n`);
    const { stdout } = await run(
      uv,
      ['pip', 'compile', '--no-config', '--quiet', '--generate-hashes', '--no-header', '--no-annotate', ...(platform ? ['--only-binary', ':all:'] : []), '--python-version', minor, '--python-platform', triple, '--cache-dir', path.join(options.cacheDir, 'uv-v1'), ...indexArgs, input],
      { env: { ...isolatedPythonEnv(), UV_PYTHON_DOWNLOADS: 'never' }, failure: `cannot resolve the packages of environment "${spec.name}"`, tailLines: 25 },
    ).catch(async (error) => {
      throw await installFailure(error, request);
    });
    const local = new Set((context.local ?? []).map((l) => normalizeName(l.name)));
    const note = local.size ? `\n# In-repo packages (${[...local].join(', ')}) are built from this commit and not locked; their dependencies are.` : '';
    const text = `${HEADER}${lockFingerprint(spec, options.pythonVersion, triple, context)}\n# Written by \`nx run ${spec.name}:lock${platform ? `-${platform}` : ''}\` for CPython ${minor} on ${triple}; do not edit.${note}\n${withoutPackages(stdout.trim(), local)}\n`;
    await writeFileAtomic(target, text);
    return target;
  } finally {
    await fs.rm(input, { force: true });
    await fs.rm(constraints, { force: true });
  }
}

/**
 * The lock to install from, if the environment has one, after checking that
 * it still matches its spec. A stale lock is an error, never re-resolved: CI
 * must build exactly what was reviewed.
 */
export function checkedLock(spec: EnvironmentSpec, pythonVersion: string, context: LockContext = {}, platform?: TargetPlatform): string | undefined {
  const file = lockPath(spec, platform);
  if (!existsSync(file)) return undefined;
  const first = readFileSync(file, 'utf8').split('\n', 1)[0];
  const recorded = first.startsWith(HEADER) ? first.slice(HEADER.length).trim() : undefined;
  const expected = lockFingerprint(spec, pythonVersion, lockTriple(platform), context);
  if (recorded !== expected) {
    throw new PydepotError(`${file} is out of date with ${spec.file} (its packages, requirements, index settings, Python version, base environment's packages or in-repo packages changed since it was written)`, {
      path: file,
      hint: `refresh it with \`nx run ${spec.name}:lock${platform ? `-${platform}` : ''}\`, review the diff and commit it`,
    });
  }
  return file;
}

/** Drop the entries (a `name==version` line and its indented `--hash` lines) of `names` from uv's output. */
function withoutPackages(text: string, names: Set<string>): string {
  if (names.size === 0) return text;
  const out: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    if (!/^\s/.test(line)) skipping = names.has(requirementName(line) ?? '');
    if (!skipping) out.push(line);
  }
  return out.join('\n');
}
