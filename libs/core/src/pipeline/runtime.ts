import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { DistributionSource } from '../distribution/source';
import { PydepotError } from '../errors';
import { siblingTempPath, writeJsonAtomic } from '../fs/atomic';
import { acquireFileLock } from '../fs/lock';
import { hashIndex, indexTree, pathExists } from '../fs/tree';
import { hostPlatform } from '../interpreter/discover';
import { installLauncher } from '../interpreter/launcher';
import { buildWindowsLaunchers, standInInterpreter } from '../interpreter/windows';
import { isForeign, WHEEL_PLATFORMS } from '../model/platform';
import { foreignPipArgs } from '../installer/pip';
import { makeRelocatable } from '../interpreter/relocate';
import { RuntimeRequest } from '../model/declared';
import { identityOf, runtimeIdentity, runtimeSource } from './runtime-source';

export { runtimeIdentity, runtimeSource };
import { EnvironmentLayout, hostLayout, minorOf, RUNTIMES_DIR, WINDOWS_LAYOUT } from '../environment/layout';
import { EnvironmentManifest, FILES_INDEX, MANIFEST_SCHEMA_VERSION, METADATA_FILES, writeManifest } from '../environment/manifest';
import { compileBytecode, listPackages, runPython } from '../environment/python';
import { makeScriptsRelocatable } from '../environment/scripts';
import { readDistlibLaunchers, writeWindowsScripts } from '../environment/windows-scripts';
import { isolatedPythonEnv } from '../process/python-env';
import { run } from '../process/run';
import { BlobStore, fetchRuntime, shareRuntime } from './runtime-share';

/*
 * Runtimes: each distinct Python distribution the workspace uses, built
 * once (unpacked, made relocatable, given pydepot's launcher and pip, its
 * standard library byte-compiled) and shared by every environment on it.
 *
 * The tree lives in a content-addressed store, `<buildDir>/_runtimes/<id>`
 * (id: version, platform and the tree's content hash), and what Nx caches is
 * a small manifest beside it (`<buildDir>/_runtimes/<project>.json`): a
 * fully cached run restores a few hundred bytes per runtime instead of
 * rewriting an interpreter. A reader whose store lacks the tree (a fresh
 * clone served from a remote cache) rebuilds it from the manifest's request
 * (`ensureRuntime`), under a lock, once, or fetches it from where the
 * machine that built it shared it (runtime-share.ts: the remote cache).
 *
 * The depot mirrors the store: `<depot>/_runtimes/<id>`, two levels above
 * every environment version, as the store is two levels above every stage
 * folder (`<buildDir>/<env>/<stage>`), so the relative path an environment
 * records to its runtime holds in both.
 */
/** From an environment's root (a stage folder or a published version) to the runtimes folder. */
export { RUNTIMES_DIR };
export const RUNTIMES_FROM_ENVIRONMENT = `../../${RUNTIMES_DIR}`;
export const RUNTIME_MANIFEST_SCHEMA_VERSION = 1;

export interface RuntimeManifest {
  schemaVersion: number;
  /** The tree's folder name in the store and in the depot. */
  id: string;
  python: EnvironmentManifest['python'];
  platform: string;
  /** Hash of the tree's file index. */
  contentHash: string;
  /** The tree has pydepot's launcher: environments can share it (layout "shared"). */
  launcher: boolean;
  /** What it was built from, to rebuild it where the store lacks it. */
  request: RuntimeRequest;
  /** The distribution's identity when built (docs/ARCHITECTURE.md, cache keys). */
  identity: string;
  /**
   * Where the distribution lived on the machine that built it (an installed
   * prefix, the unpack folder): the relocation audit of install, publish and
   * verify looks for them, so none of them re-resolves the distribution.
   * This manifest stays in the build folder; it is never published.
   */
  originPaths?: string[];
}

export interface StageLog {
  log: (message: string) => void;
}

/** The store folder of a runtime manifest's tree. */
export function runtimeTree(manifestFile: string, manifest: RuntimeManifest): string {
  return path.join(path.dirname(manifestFile), manifest.id);
}

export async function readRuntimeManifest(file: string): Promise<RuntimeManifest> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as RuntimeManifest;
  } catch (error) {
    throw new PydepotError(`cannot read the runtime manifest ${file}: ${(error as Error).message}`, {
      path: file,
      hint: "build the environment's runtime first (`nx run <env>:venv` builds it; `nx show projects` lists the python-* runtimes)",
    });
  }
}

/**
 * Build the runtime for `request` into the store beside `manifestPath` and
 * write the manifest. `id` forces the folder name (a rebuild of a tree a
 * restored manifest names).
 */
export async function buildRuntime(
  options: StageLog & {
    request: RuntimeRequest;
    workspaceRoot: string;
    manifestPath: string;
    cacheDir: string;
    id?: string;
    /** Where other machines fetch the tree from (the remote cache). */ share?: BlobStore;
    /** The specs that ask for this runtime, named when the request cannot be met. */ specFiles?: string[];
  },
): Promise<RuntimeManifest> {
  const { request, log } = options;
  const source = runtimeSource(request, options.workspaceRoot, options.specFiles);
  const store = path.dirname(options.manifestPath);
  await fs.mkdir(store, { recursive: true });
  const tmp = siblingTempPath(path.join(store, 'runtime'));
  try {
    const unpackOptions = { cacheDir: options.cacheDir, includeStdlibTests: request.includeStdlibTests, log, file: options.manifestPath };
    const foreign = request.platform !== undefined && isForeign(request.platform);
    const { manifest, launcher, layout, standIn } = foreign ? await unpackWindowsPrefix(tmp, source, unpackOptions) : { ...(await unpackPrefix(tmp, source, unpackOptions)), layout: hostLayout(), standIn: undefined };
    const minor = minorOf(manifest.python.version);
    if (!standIn) {
      log('installing pip with ensurepip');
      await runPython(tmp, ['-m', 'ensurepip', '--default-pip'], { failure: 'ensurepip failed' });
    }
    await makeScriptsRelocatable(tmp, layout.scriptsDir, layout.sitePackages(minor), layout.python);
    const site = layout.sitePackages(minor);
    const [, packages] = await Promise.all([compileBytecode(tmp, [site], undefined, log, standIn), listPackages(tmp, standIn ? { python: standIn, sitePackages: site } : undefined)]);
    await writeManifest(tmp, { ...manifest, packages });
    const entries = await indexTree(tmp, (rel) => !METADATA_FILES.has(rel));
    const contentHash = hashIndex(entries);
    await writeJsonAtomic(path.join(tmp, FILES_INDEX), { schemaVersion: 1, contentHash, entries });
    const id = options.id ?? `cpython-${manifest.python.version}-${manifest.platform}-${contentHash.slice(0, 12)}`;
    const final = path.join(store, id);
    if ((await storedContentHash(final)) === contentHash) await fs.rm(tmp, { recursive: true, force: true });
    else {
      if (options.id && (await pathExists(final))) log(`warning: rebuilt runtime ${id} differs from the one recorded (the build is not bit-for-bit reproducible here); environments built on it keep working`);
      await fs.rm(final, { recursive: true, force: true });
      await fs.rename(tmp, final);
    }
    const runtime: RuntimeManifest = {
      schemaVersion: RUNTIME_MANIFEST_SCHEMA_VERSION,
      id,
      python: manifest.python,
      platform: manifest.platform,
      contentHash,
      launcher,
      request,
      identity: identityOf(source, request),
      originPaths: source.originPaths(),
    };
    if (options.share) await shareRuntime(final, id, options.share, log);
    await writeJsonAtomic(options.manifestPath, runtime);
    log(`runtime ${id} ready (${entries.filter((e) => e.kind === 'file').length} files)`);
    return runtime;
  } catch (error) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw error;
  }
}

/**
 * The runtime tree a manifest names, ready to use: as it is in the store, or
 * rebuilt there when missing or incomplete (a cache hit restored only the
 * manifest). Concurrent callers rebuild it once.
 */
export async function ensureRuntime(
  manifestPath: string,
  options: StageLog & { workspaceRoot: string; cacheDir: string; share?: BlobStore },
): Promise<{ manifest: RuntimeManifest; root: string }> {
  const manifest = await readRuntimeManifest(manifestPath);
  const root = runtimeTree(manifestPath, manifest);
  if ((await storedContentHash(root)) === manifest.contentHash) return { manifest, root };
  const lock = await acquireFileLock(`${root}.lock`, { activity: 'rebuild', subject: manifest.id, log: options.log, staleMs: 60_000, timeoutMs: 30 * 60_000 });
  try {
    if ((await storedContentHash(root)) !== manifest.contentHash && !(options.share && (await fetchRuntime(root, manifest.id, manifest.contentHash, options.share, options.log)))) {
      options.log(`runtime ${manifest.id} is not in ${path.dirname(root)} (restored from a cache): building it`);
      await buildRuntime({ request: manifest.request, workspaceRoot: options.workspaceRoot, manifestPath: `${root}.rebuilt.json`, cacheDir: options.cacheDir, id: manifest.id, log: options.log });
      await fs.rm(`${root}.rebuilt.json`, { force: true });
    }
  } finally {
    await lock.release();
  }
  return { manifest, root };
}

async function storedContentHash(root: string): Promise<string | undefined> {
  try {
    return (JSON.parse(await fs.readFile(path.join(root, FILES_INDEX), 'utf8')) as { contentHash: string }).contentHash;
  } catch {
    return undefined;
  }
}

/**
 * A Windows CPython prefix in `dest`, prepared on an agent of another OS
 * (docs/WINDOWS.md): as the distribution has it (a Windows CPython finds
 * its own prefix), plus pydepot's launchers cross-compiled against its
 * headers, its standard library byte-compiled by the agent's CPython of the
 * same version, and pip from its own ensurepip wheel.
 */
async function unpackWindowsPrefix(
  dest: string,
  source: DistributionSource,
  options: StageLog & { cacheDir: string; includeStdlibTests: boolean; file?: string },
): Promise<{ manifest: EnvironmentManifest; launcher: boolean; layout: EnvironmentLayout; standIn: string }> {
  const { log } = options;
  const unpacked = await source.unpack(dest, { cacheDir: options.cacheDir, includeStdlibTests: options.includeStdlibTests, log });
  if (unpacked.os !== 'windows') {
    throw new PydepotError(`${source.describe()} is a ${unpacked.os ?? 'posix'} CPython, but this runtime is for Windows`, {
      path: options.file,
      hint: 'point the workspace\'s "pythons.windows" entry (nx.json) at a Windows CPython: the NuGet "python" package, an MSI, or an archive of an installed one',
    });
  }
  const layout = WINDOWS_LAYOUT;
  const minor = minorOf(unpacked.version);
  const standIn = standInInterpreter(unpacked.version).executable;
  await bootstrapWindowsPip(dest, minor, standIn, log, options.file);
  await buildWindowsLaunchers(dest, minor, log);
  log(`byte-compiling the standard library with this agent's CPython ${minor} (unchecked-hash)`);
  await compileBytecode(dest, layout.libDirs(minor), undefined, log, standIn);
  const manifest: EnvironmentManifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    platform: 'win32-x64',
    python: { implementation: 'cpython', version: unpacked.version, source: unpacked.source },
    entryPoints: { python: layout.python, scriptsDir: layout.scriptsDir, sitePackages: layout.sitePackages(minor) },
    packages: [],
  };
  return { manifest, launcher: true, layout, standIn };
}

/**
 * What ensurepip does, done from outside: the pip wheel the runtime's own
 * standard library bundles (Lib/ensurepip/_bundled), unpacked into its
 * site-packages by the agent's CPython, its scripts made Windows .exe files.
 */
async function bootstrapWindowsPip(prefix: string, minor: string, standIn: string, log: (m: string) => void, file?: string): Promise<void> {
  const bundled = path.join(prefix, 'Lib', 'ensurepip', '_bundled');
  const wheel = (await fs.readdir(bundled).catch(() => [] as string[])).find((n) => /^pip-[^-]+-py3-none-any\.whl$/.test(n));
  if (!wheel) {
    throw new PydepotError(`this Windows CPython has no pip wheel in Lib\\ensurepip\\_bundled, and it cannot run on this agent to get one`, {
      path: file,
      hint: 'use a full CPython distribution (the NuGet "python" package, the MSI, an archive of an installed CPython), not the embeddable zip',
    });
  }
  log(`installing ${wheel} (the runtime's own ensurepip wheel)`);
  const site = path.join(prefix, 'Lib', 'site-packages');
  // By name from the bundled folder, as ensurepip does: a wheel installed by path leaves a direct_url.json naming it.
  const version = /^pip-([^-]+)-/.exec(wheel)![1];
  const target = { python: standIn, sitePackages: site, version: minor, pipPlatform: WHEEL_PLATFORMS.windows.pip, uvPlatform: WHEEL_PLATFORMS.windows.uv };
  await run(standIn, ['-I', '-m', 'pip', 'install', '--isolated', '--no-index', '--find-links', bundled, '--no-deps', '--no-compile', '--disable-pip-version-check', '--no-warn-script-location', ...foreignPipArgs(target), `pip==${version}`], {
    env: isolatedPythonEnv(),
    failure: `cannot install ${wheel} into the Windows runtime`,
  });
  await writeWindowsScripts(prefix, 'Lib/site-packages', await readDistlibLaunchers(prefix));
}

/**
 * A relocatable CPython prefix in `dest` (which must not exist): the
 * source's files, relocated, with pydepot's launcher (POSIX) and the
 * standard library byte-compiled. Shared by the runtime and by the
 * hand-configured unpack stage.
 */
export async function unpackPrefix(
  dest: string,
  source: DistributionSource,
  options: StageLog & { cacheDir: string; includeStdlibTests: boolean; file?: string },
): Promise<{ manifest: EnvironmentManifest; launcher: boolean }> {
  const { log } = options;
  const layout = hostLayout();
  const unpacked = await source.unpack(dest, { cacheDir: options.cacheDir, includeStdlibTests: options.includeStdlibTests, log });
  if ((unpacked.os ?? 'posix') !== layout.os) {
    throw new PydepotError(`${source.describe()} is a ${unpacked.os} CPython; this build agent runs ${process.platform}`, {
      path: options.file,
      hint: 'build each environment on an agent of its own OS (the unpacked tree cannot run here to install pip and packages)',
    });
  }
  const minor = minorOf(unpacked.version);
  await makeRelocatable(dest, { minor, originalPrefix: unpacked.originalPrefix, scrubBinaries: unpacked.scrubBinaries, log });
  const launcher = layout.os === 'posix' ? await installLauncher(dest, minor, log) : false;
  log(`byte-compiling the standard library (unchecked-hash)`);
  await compileBytecode(dest, layout.libDirs(minor), undefined, log);
  const manifest: EnvironmentManifest = {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    platform: hostPlatform(),
    python: { implementation: 'cpython', version: unpacked.version, source: unpacked.source },
    entryPoints: { python: layout.python, scriptsDir: layout.scriptsDir, sitePackages: layout.sitePackages(minor) },
    packages: [],
  };
  return { manifest, launcher };
}
