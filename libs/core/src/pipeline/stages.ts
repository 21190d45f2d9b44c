import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { resolveDistribution } from '../distribution';
import { PydepotError } from '../errors';
import { buildDirectoryAtomically, siblingTempPath, writeFileAtomic, writeJsonAtomic } from '../fs/atomic';
import { copyTree, hashIndex, IndexedEntry, IndexReuse, indexTree, isInherited } from '../fs/tree';
import { getInstaller } from '../installer';
import { checkedLock, lockContext } from '../installer/lock';
import { wheelhouseIndex, WHEELHOUSE_ENV } from '../installer/wheelhouse';
import { listWheels } from '../library/wheel';
import { LAUNCH_HOOK, launchHook } from '../interpreter/launcher';
import { fixInstalledRunpaths, makeRelocatable } from '../interpreter/relocate';
import { RuntimeManifest, RUNTIMES_FROM_ENVIRONMENT, unpackPrefix } from './runtime';
import { EnvironmentSpec } from '../model/environment';
import { decideLayout } from '../model/layout';
import { runStage } from './delta';
import { auditTree, formatFindings } from '../verify/audit';
import { writeActivators } from '../environment/activators';
import { EnvironmentLayout, hostLayout, minorOf, sharedLayoutFiles, WINDOWS_LAYOUT, WINDOWS_SHARED_LAYOUT } from '../environment/layout';
import { WINDOWS_LAUNCHERS } from '../interpreter/windows';
import { readDistlibLaunchers, writeWindowsScripts } from '../environment/windows-scripts';
import { foreignPlatformOf, platformOfManifest, WHEEL_PLATFORMS } from '../model/platform';
import { EnvironmentManifest, FILES_INDEX, MANIFEST_SCHEMA_VERSION, METADATA_FILES, readManifest, SBOM_FILE, writeManifest } from '../environment/manifest';
import { compileBytecode, listPackages, runPython, standInFor } from '../environment/python';
import { environmentSbom } from '../environment/sbom';
import { makeScriptsRelocatable } from '../environment/scripts';

/*
 * The build, one function per Nx target. Each stage reads the previous
 * stage's folder, works on a hard-linked copy in a temp sibling of its own
 * output and renames it into place only when it succeeded: a failed stage
 * leaves its previous output untouched. Every file a stage changes is
 * rewritten through a new inode (temp + rename, as pip and compileall do), so
 * the hard links never let a later stage alter an earlier one's output.
 */

export interface StageLog {
  log: (message: string) => void;
}

/** unpack (hand-configured projects; inferred ones build a runtime): a relocatable CPython prefix from the spec's distribution source. */
export async function unpackDistribution(options: StageLog & { spec: EnvironmentSpec; outputPath: string; cacheDir: string }): Promise<EnvironmentManifest> {
  const { spec, outputPath, log } = options;
  return buildDirectoryAtomically(outputPath, async (tmp) => {
    const { manifest } = await unpackPrefix(tmp, resolveDistribution(spec.python), { cacheDir: options.cacheDir, includeStdlibTests: spec.includeStdlibTests, log, file: spec.file });
    await writeManifest(tmp, manifest);
    await writeStageIndex(tmp, await indexTree(tmp, (rel) => !METADATA_FILES.has(rel)));
    return manifest;
  });
}

/** ensurepip: the interpreter's bundled pip, with relocatable scripts. */
export async function bootstrapPip(options: StageLog & { inputPath: string; outputPath: string }): Promise<EnvironmentManifest> {
  return derive(options, async (tmp, manifest) => {
    options.log('installing pip with ensurepip');
    await runPython(tmp, ['-m', 'ensurepip', '--default-pip'], { failure: 'ensurepip failed' });
    return finishSitePackages(tmp, manifest, options.inputPath, options.log);
  });
}

/**
 * venv: the isolated environment for one tool. In the self-contained layout
 * (docs/RELOCATION.md) that is a private copy of the interpreter prefix with
 * its own site-packages and stable entry points, named after the environment.
 */
export async function createEnvironment(options: StageLog & { inputPath: string; outputPath: string; name: string; description?: string }): Promise<EnvironmentManifest> {
  const layout = hostLayout();
  return derive(options, async (tmp, manifest) => {
    // Built on a base environment (a finished one, with a version): start from a copy of it.
    const base = manifest.version && manifest.name ? { name: manifest.name, version: manifest.version } : manifest.base;
    if (base) options.log(`starting from base environment ${base.name} (version ${base.version}, ${manifest.packages.length} packages)`);
    await fs.rm(path.join(tmp, SBOM_FILE), { force: true });
    await makeRelocatable(tmp, { minor: minorOf(manifest.python.version), log: options.log });
    const activators = await writeActivators(tmp, layout, options.name);
    const activate = Object.fromEntries(activators.map((rel) => [shellOf(rel), rel]));
    const { version: _v, contentHash: _c, inputHash: _i, ...rest } = manifest;
    return { ...rest, name: options.name, description: options.description, ...(base ? { base } : {}), entryPoints: { ...manifest.entryPoints, path: layout.pathEntries, activate } };
  });
}

/**
 * venv, self-contained, on a Windows runtime built on another OS: a private
 * copy of the runtime whose python.exe and pythonw.exe are pydepot's
 * launchers (with no pyvenv.cfg they load the DLL beside themselves, and are
 * hermetic), so a host's PYTHONHOME cannot break it either.
 */
async function createWindowsCopy(options: StageLog & { inputPath: string; outputPath: string; name: string; description?: string }): Promise<EnvironmentManifest> {
  return derive(options, async (tmp, manifest) => {
    // Through a new inode (an atomic write): the copy's files are hard links to the runtime's.
    for (const [name, from] of [['python.exe', WINDOWS_LAUNCHERS.console], ['pythonw.exe', WINDOWS_LAUNCHERS.gui]]) {
      await writeFileAtomic(path.join(tmp, name), await fs.readFile(path.join(tmp, ...from.split('/'))), 0o755);
    }
    await fs.rm(path.join(tmp, path.dirname(WINDOWS_LAUNCHERS.console)), { recursive: true, force: true });
    const activators = await writeActivators(tmp, WINDOWS_LAYOUT, options.name);
    const activate = Object.fromEntries(activators.map((rel) => [shellOf(rel), rel]));
    return { ...manifest, name: options.name, description: options.description, entryPoints: { ...manifest.entryPoints, path: WINDOWS_LAYOUT.pathEntries, activate } };
  });
}

/**
 * venv in the shared layout (docs/RELOCATION.md): a venv of the runtime
 * whose `home` is a relative path. The environment holds pydepot's launcher
 * (a copy of the runtime's: ~20 KB), its own empty site-packages and
 * activators; the launcher finds the runtime from its own real location, so
 * the environment runs from any path as long as the runtime sits where the
 * depot puts it, two levels up.
 */
export async function createSharedEnvironment(options: StageLog & { runtime: { manifest: RuntimeManifest; root: string }; outputPath: string; name: string; description?: string }): Promise<EnvironmentManifest> {
  const { manifest: runtime, root: runtimeRoot } = options.runtime;
  const layout = sharedLayoutOf(runtime);
  const relative = path.relative(options.outputPath, runtimeRoot).split(path.sep).join('/');
  if (relative !== `${RUNTIMES_FROM_ENVIRONMENT}/${runtime.id}`) {
    throw new PydepotError(`the environment ${options.outputPath} is not two levels below the runtimes folder ${path.dirname(runtimeRoot)}, as it will be in the depot`, {
      path: options.outputPath,
      hint: 'keep stage folders at <buildDir>/<environment>/<stage> and runtimes at <buildDir>/_runtimes (the defaults)',
    });
  }
  const minor = minorOf(runtime.python.version);
  const files = sharedLayoutFiles(layout, runtime.id, runtime.python.version);
  return buildDirectoryAtomically(options.outputPath, async (tmp) => {
    const launcher = path.join(tmp, files.launcher);
    await fs.mkdir(path.dirname(launcher), { recursive: true });
    await fs.copyFile(path.join(runtimeRoot, files.runtimeLauncher), launcher);
    await fs.chmod(launcher, 0o755);
    if (files.guiLauncher) await fs.copyFile(path.join(runtimeRoot, files.guiLauncher.from), path.join(tmp, files.guiLauncher.file));
    for (const alias of files.aliases) await fs.symlink(path.relative(path.dirname(path.join(tmp, alias)), launcher), path.join(tmp, alias));
    await fs.mkdir(path.join(tmp, layout.sitePackages(minor)), { recursive: true });
    // site.py makes this folder sys.prefix; the launcher resolves `home` against it. The runtime's
    // site-packages (pip, from ensurepip) stays visible under the environment's own.
    await writeFileAtomic(path.join(tmp, 'pyvenv.cfg'), files.pyvenvCfg, 0o644);
    const activators = await writeActivators(tmp, layout, options.name);
    const manifest: EnvironmentManifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      name: options.name,
      description: options.description,
      platform: runtime.platform,
      runtime: { id: runtime.id, path: relative },
      python: runtime.python,
      entryPoints: {
        python: layout.python,
        scriptsDir: layout.scriptsDir,
        sitePackages: layout.sitePackages(minor),
        path: layout.pathEntries,
        activate: Object.fromEntries(activators.map((rel) => [shellOf(rel), rel])),
      },
      packages: [],
    };
    await writeManifest(tmp, manifest);
    await writeStageIndex(tmp, await indexTree(tmp, (rel) => !METADATA_FILES.has(rel)));
    return manifest;
  });
}

/** The layout of an environment in the shared layout on `runtime`: the runtime's OS's (a Windows runtime built on Linux: a Windows venv). */
function sharedLayoutOf(runtime: { platform: string }): EnvironmentLayout {
  return platformOfManifest(runtime) === 'windows' ? WINDOWS_SHARED_LAYOUT : hostLayout();
}

/**
 * The venv target of an environment that names a Python: its layout by the
 * one decision (the spec's, confirmed by what the built runtime can do),
 * then a venv whose home is the shared runtime (a few files, recorded as a
 * delta over nothing) or a private copy of the runtime (a delta over it).
 */
export async function createVenvStage(
  options: StageLog & { spec: EnvironmentSpec; runtime: { manifest: RuntimeManifest; root: string }; outputPath: string; delta?: boolean },
): Promise<EnvironmentManifest> {
  const { spec, runtime, outputPath, log } = options;
  const named = { outputPath, name: spec.name, description: spec.description, log };
  // A runtime of another OS (Windows, built here) always has pydepot's launcher: shared unless the spec asks for a copy.
  const foreign = foreignPlatformOf(runtime.manifest) !== undefined;
  const decision = foreign
    ? { layout: spec.layout === 'self-contained' ? ('self-contained' as const) : ('shared' as const) }
    : decideLayout({ intent: spec.layout, publishTo: spec.publish.to, runtime: { launcher: runtime.manifest.launcher, version: runtime.manifest.python.version } });
  if (foreign && decision.layout === 'self-contained') {
    return runStage({ input: runtime.root, output: outputPath, delta: options.delta }, (inputPath) => createWindowsCopy({ ...named, inputPath: inputPath! }));
  }
  if (decision.layout === 'shared') {
    const manifest = await runStage({ output: outputPath, delta: options.delta }, () => createSharedEnvironment({ ...named, runtime }));
    log(`shared layout: runs on runtime ${runtime.manifest.id}`);
    return manifest;
  }
  if (spec.layout === 'shared') log(`runtime ${runtime.manifest.id} cannot be shared (${decision.reason}): this environment gets a private copy of it (layout "self-contained")`);
  return runStage({ input: runtime.root, output: outputPath, delta: options.delta }, (inputPath) => createEnvironment({ ...named, inputPath: inputPath! }));
}

/** install: the spec's packages, then the content-derived version id. */
export async function installRequirements(
  options: StageLog & {
    inputPath: string;
    outputPath: string;
    spec: EnvironmentSpec;
    cacheDir: string;
    installer?: string;
    inputHash?: string;
    /** Folders holding the wheels of in-repo packages this environment uses (build-wheel outputs). */
    localWheelDirs?: string[];
    /** Paths no file of the environment may name (the workspace, the build folder, the interpreter's origin), besides the stage's own. */
    forbiddenPaths?: string[];
  },
): Promise<EnvironmentManifest> {
  const { spec } = options;
  const local = await listWheels(options.localWheelDirs ?? []);
  return derive(options, async (tmp, manifest, index) => {
    const installer = getInstaller(spec.installer ?? options.installer);
    const standIn = standInFor(manifest);
    const platform = foreignPlatformOf(manifest);
    const offline = wheelhouseIndex(spec, process.env, platform);
    if (offline) options.log(`${WHEELHOUSE_ENV} is set: installing from ${offline.findLinks[0]} only`);
    const request = { index: offline ?? spec.index, cacheDir: options.cacheDir, environment: spec.name, specFile: spec.file };
    const context = lockContext(manifest, local);
    // A committed lock (this platform's), checked against the spec, is all that is installed: hashes required.
    const lock = checkedLock(spec, manifest.python.version, context, platform);
    if (standIn) await installForeign(tmp, manifest, { ...options, installer, request, lock, local, standIn });
    else await installNative(tmp, manifest, { ...options, installer, request, lock, local, constraints: context.constraints });
    const runtime = manifest.runtime ? [path.resolve(options.inputPath, manifest.runtime.path)] : [];
    if (!standIn) await fixInstalledRunpaths(tmp, options.inputPath, options.log, runtime);
    const next = await finishSitePackages(tmp, manifest, options.inputPath, options.log, standIn);
    // The relocation audit is part of the build: an environment it rejects never reaches a publisher.
    await auditBuild(tmp, options.inputPath, [options.outputPath, options.cacheDir, ...runtime, ...(options.forbiddenPaths ?? [])], spec, standIn !== undefined);
    // The file index lists every entry with its sha256: publishers reuse
    // unchanged files from the previous version by it, and anyone can check a
    // published copy against it. It, the manifest and the SBOM describe the
    // content, so they are not part of the content hash.
    const contentHash = hashIndex(await index());
    const finished: EnvironmentManifest = { ...next, name: spec.name, description: spec.description, version: contentHash.slice(0, 16), contentHash, inputHash: options.inputHash, verify: spec.verify };
    await writeJsonAtomic(path.join(tmp, SBOM_FILE), environmentSbom(finished));
    return finished;
  });
}

/** What both install paths get. */
interface InstallerRun {
  spec: EnvironmentSpec;
  installer: ReturnType<typeof getInstaller>;
  request: { index: EnvironmentSpec['index']; cacheDir: string; environment: string; specFile: string };
  lock?: string;
  local: Array<{ name: string; version: string }>;
  localWheelDirs?: string[];
  inputPath: string;
}

/** The install stage's installer runs on the environment's own interpreter. */
async function installNative(
  tmp: string,
  manifest: EnvironmentManifest,
  options: StageLog & InstallerRun & { outputPath: string; constraints?: string[] },
): Promise<void> {
  const { spec, request, lock, local, installer } = options;
  // In-repo packages first, from their freshly built wheels only (never an index), without dependencies:
  // the install below then finds them satisfied and brings their dependencies (locked, if there is a lock).
  if (local.length) {
    options.log(`installing in-repo ${local.map((w) => `${w.name}==${w.version}`).join(', ')} with ${installer.name}`);
    await installer.install(tmp, {
      ...request,
      packages: local.map((w) => `${w.name}==${w.version}`),
      requirementFiles: [],
      noDeps: true,
      index: { url: spec.index.url, extraUrls: [], findLinks: options.localWheelDirs ?? [], noIndex: true },
    });
  }
  const count = spec.packages.length + spec.requirements.length;
  if (lock) options.log(`installing ${path.basename(lock)} (hashes required) with ${installer.name}`);
  else if (count) options.log(`installing ${spec.packages.join(', ') || 'requirements'} with ${installer.name}${manifest.base ? ` on base ${manifest.base.name}` : ''}`);
  // The base environment's packages keep their versions.
  const constraints = options.constraints?.length ? siblingTempPath(path.join(path.dirname(options.outputPath), 'constraints.txt')) : undefined;
  try {
    if (constraints) await fs.writeFile(constraints, `${options.constraints!.join('\n')}\n`);
    await installer.install(tmp, {
      ...request,
      packages: lock ? [] : spec.packages,
      requirementFiles: lock ? [lock] : spec.requirements,
      requireHashes: lock !== undefined,
      constraintFiles: constraints && !lock ? [constraints] : [],
    });
  } finally {
    if (constraints) await fs.rm(constraints, { force: true });
  }
  // An exact install (lock, in-repo packages without dependencies) must still be complete.
  if (lock || local.length) await checkDependencies(tmp, spec, lock);
  await writeLaunchHook(tmp, manifest, spec);
}

/**
 * The install stage of an environment of another OS (a Windows version on a
 * Linux agent; docs/WINDOWS.md): one installer run by the agent's CPython of
 * its version, binary wheels for the platform only (in-repo packages' wheels
 * from their folders), unpacked into its site-packages; then its console
 * scripts as Windows .exe files.
 */
async function installForeign(
  tmp: string,
  manifest: EnvironmentManifest,
  options: StageLog & InstallerRun & { standIn: string },
): Promise<void> {
  const { spec, request, lock } = options;
  const minor = minorOf(manifest.python.version);
  const site = path.join(tmp, manifest.entryPoints.sitePackages);
  const wheels = WHEEL_PLATFORMS.windows;
  const foreign = { python: options.standIn, sitePackages: site, version: minor, pipPlatform: wheels.pip, uvPlatform: wheels.uv };
  const packages = lock ? [] : [...spec.packages, ...options.local.map((w) => `${w.name}==${w.version}`)];
  options.log(`installing ${lock ? path.basename(lock) : packages.join(', ') || 'requirements'} for ${wheels.pip} (binary wheels only) with ${options.installer.name}, run by this agent's CPython ${minor}`);
  await options.installer.install(tmp, {
    ...request,
    index: { ...request.index, findLinks: [...request.index.findLinks, ...(options.local.length ? (options.localWheelDirs ?? []) : [])] },
    packages,
    requirementFiles: lock ? [lock] : spec.requirements,
    requireHashes: lock !== undefined,
    foreign,
  });
  // distlib's launchers from the pip it runs on: the shared runtime's, or its own copy's.
  const pipRoot = manifest.runtime ? path.resolve(options.inputPath, manifest.runtime.path) : tmp;
  const scripts = await writeWindowsScripts(tmp, manifest.entryPoints.sitePackages, await readDistlibLaunchers(pipRoot));
  if (scripts.length) options.log(`console scripts for Windows: ${scripts.join(', ')}`);
  await writeLaunchHook(tmp, manifest, spec, true);
}

async function checkDependencies(root: string, spec: EnvironmentSpec, lock: string | undefined): Promise<void> {
  await runPython(root, ['-m', 'pip', 'check'], {
    failure: `the packages of environment "${spec.name}" are incomplete`,
    hint: lock
      ? `a package needs something the lock does not list (an in-repo package's dependencies changed?): refresh it with \`nx run ${spec.name}:lock\` and commit it; nothing was published`
      : `an in-repo package's dependencies are missing: check its pyproject.toml; nothing was published`,
  });
}

/** The launcher's start-up hook with this environment's PYTHONPATH policy (where pydepot's launcher runs it: POSIX, and Windows environments built on a shared runtime). */
async function writeLaunchHook(root: string, manifest: EnvironmentManifest, spec: EnvironmentSpec, launcher = false): Promise<void> {
  if (!launcher && hostLayout().os !== 'posix' && !manifest.runtime) return;
  const site = path.join(root, manifest.entryPoints.sitePackages);
  const hook = launchHook(spec.pythonPath);
  await writeFileAtomic(path.join(site, `${LAUNCH_HOOK}.py`), hook.module);
  await writeFileAtomic(path.join(site, `${LAUNCH_HOOK}.pth`), hook.pth);
}

/**
 * The relocation audit of what this stage installed (files that are not the
 * previous stage's, hard-linked): where install-time build paths appear. The
 * whole tree is audited again by the publish gate, on the version as published.
 */
async function auditBuild(root: string, previous: string, forbidden: string[], spec: EnvironmentSpec, windows: boolean): Promise<void> {
  const needles = [root, previous, ...forbidden];
  const real = await Promise.all(needles.map((n) => fs.realpath(n).catch(() => n)));
  const findings = await auditTree(root, [...needles, ...real], async (e) => !(await isInherited(previous, e)), { windows });
  if (findings.length === 0) return;
  throw new PydepotError(`environment "${spec.name}" would be tied to the build machine (${findings.length} finding(s)):\n${formatFindings(findings)}`, {
    path: spec.file,
    hint: 'a package wrote an absolute build path into a file (see each hint); nothing was published. Pin another version of that package or report it to its maintainers',
  });
}

function shellOf(activator: string): string {
  const name = activator.split('/').pop()!;
  return { activate: 'sh', 'activate.fish': 'fish', 'activate.bat': 'cmd', 'Activate.ps1': 'powershell', 'deactivate.bat': 'cmd-deactivate' }[name] ?? name;
}

/**
 * One derived stage: a hard-linked copy of the input, `work` on it, then its
 * file index. `index()` (memoised) lists every file of the finished tree with
 * its sha256, reusing the input stage's hashes for the files it inherited
 * unchanged (same inode): a stage hashes only what it wrote.
 */
async function derive(
  options: { inputPath: string; outputPath: string },
  work: (tmp: string, manifest: EnvironmentManifest, index: () => Promise<IndexedEntry[]>) => Promise<EnvironmentManifest>,
): Promise<EnvironmentManifest> {
  const manifest = await readManifest(options.inputPath);
  const reuse = await readStageIndex(options.inputPath);
  return buildDirectoryAtomically(options.outputPath, async (tmp) => {
    await copyTree(options.inputPath, tmp, { link: true });
    let entries: Promise<IndexedEntry[]> | undefined;
    const index = () => (entries ??= indexTree(tmp, (rel) => !METADATA_FILES.has(rel), reuse));
    const next = await work(tmp, manifest, index);
    await writeStageIndex(tmp, await index());
    await writeManifest(tmp, next);
    return next;
  });
}

/** The file index every stage leaves (FILES_INDEX): published with the last one, reused by the next. */
async function writeStageIndex(root: string, entries: IndexedEntry[]): Promise<void> {
  await writeJsonAtomic(path.join(root, FILES_INDEX), { schemaVersion: 1, contentHash: hashIndex(entries), entries });
}

async function readStageIndex(root: string): Promise<IndexReuse | undefined> {
  const file = path.join(root, FILES_INDEX);
  try {
    const [text, st] = await Promise.all([fs.readFile(file, 'utf8'), fs.stat(file)]);
    return { root, entries: (JSON.parse(text) as { entries: IndexedEntry[] }).entries, writtenAt: st.mtimeMs };
  } catch {
    return undefined; // an older stage without an index: everything is hashed
  }
}

async function finishSitePackages(root: string, manifest: EnvironmentManifest, previous: string, log: (message: string) => void, standIn?: string): Promise<EnvironmentManifest> {
  const { scriptsDir, sitePackages, python } = manifest.entryPoints;
  await makeScriptsRelocatable(root, scriptsDir, sitePackages, python);
  // Independent (one writes __pycache__, the other reads metadata): run side by side.
  const [, packages] = await Promise.all([compileBytecode(root, [sitePackages], previous, log, standIn), listPackages(root, standIn ? { python: standIn, sitePackages } : undefined)]);
  return { ...manifest, packages };
}
