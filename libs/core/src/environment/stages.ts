import * as path from 'node:path';
import { resolveDistribution } from '../distribution';
import { PydepotError } from '../errors';
import { buildDirectoryAtomically, writeJsonAtomic } from '../fs/atomic';
import { copyTree, hashIndex, indexTree } from '../fs/tree';
import { getInstaller } from '../installer';
import { checkedLock } from '../installer/lock';
import { hostPlatform } from '../interpreter/discover';
import { makeRelocatable } from '../interpreter/relocate';
import { EnvironmentSpec } from '../spec/environment';
import { writeActivators } from './activators';
import { hostLayout, minorOf } from './layout';
import { EnvironmentManifest, FILES_INDEX, MANIFEST_SCHEMA_VERSION, METADATA_FILES, readManifest, SBOM_FILE, writeManifest } from './manifest';
import { compileBytecode, listPackages, runPython } from './python';
import { environmentSbom } from './sbom';
import { makeScriptsRelocatable } from './scripts';

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

/** unpack: a relocatable CPython prefix from the spec's distribution source. */
export async function unpackDistribution(options: StageLog & { spec: EnvironmentSpec; outputPath: string; cacheDir: string }): Promise<EnvironmentManifest> {
  const { spec, outputPath, log } = options;
  const source = resolveDistribution(spec.python);
  const layout = hostLayout();
  return buildDirectoryAtomically(outputPath, async (tmp) => {
    const unpacked = await source.unpack(tmp, { cacheDir: options.cacheDir, includeStdlibTests: spec.includeStdlibTests, log });
    if ((unpacked.os ?? 'posix') !== layout.os) {
      throw new PydepotError(`${source.describe()} is a ${unpacked.os} CPython; this build agent runs ${process.platform}`, {
        path: spec.file,
        hint: 'build each environment on an agent of its own OS (the unpacked tree cannot run here to install pip and packages)',
      });
    }
    const minor = minorOf(unpacked.version);
    await makeRelocatable(tmp, { minor, originalPrefix: unpacked.originalPrefix, scrubBinaries: unpacked.scrubBinaries, log });
    log(`byte-compiling the standard library (unchecked-hash)`);
    await compileBytecode(tmp, layout.libDirs(minor));
    const manifest: EnvironmentManifest = {
      schemaVersion: MANIFEST_SCHEMA_VERSION,
      platform: hostPlatform(),
      python: { implementation: 'cpython', version: unpacked.version, source: unpacked.source },
      entryPoints: { python: layout.python, scriptsDir: layout.scriptsDir, sitePackages: layout.sitePackages(minor) },
      packages: [],
    };
    await writeManifest(tmp, manifest);
    return manifest;
  });
}

/** ensurepip: the interpreter's bundled pip, with relocatable scripts. */
export async function bootstrapPip(options: StageLog & { inputPath: string; outputPath: string }): Promise<EnvironmentManifest> {
  return derive(options, async (tmp, manifest) => {
    options.log('installing pip with ensurepip');
    await runPython(tmp, ['-m', 'ensurepip', '--default-pip'], { failure: 'ensurepip failed' });
    return finishSitePackages(tmp, manifest);
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
    await makeRelocatable(tmp, { minor: minorOf(manifest.python.version), log: options.log });
    const activators = await writeActivators(tmp, layout, options.name);
    const activate = Object.fromEntries(activators.map((rel) => [shellOf(rel), rel]));
    return { ...manifest, name: options.name, description: options.description, entryPoints: { ...manifest.entryPoints, path: layout.pathEntries, activate } };
  });
}

/** pip-install: the spec's packages, then the content-derived version id. */
export async function installRequirements(
  options: StageLog & { inputPath: string; outputPath: string; spec: EnvironmentSpec; cacheDir: string; installer?: string; inputHash?: string },
): Promise<EnvironmentManifest> {
  const { spec } = options;
  return derive(options, async (tmp, manifest) => {
    const installer = getInstaller(spec.installer ?? options.installer);
    // A committed lock, checked against the spec, is all that is installed: hashes required.
    const lock = checkedLock(spec, manifest.python.version);
    const count = spec.packages.length + spec.requirements.length;
    if (lock) options.log(`installing ${path.basename(lock)} (hashes required) with ${installer.name}`);
    else if (count) options.log(`installing ${spec.packages.join(', ') || 'requirements'} with ${installer.name}`);
    await installer.install(tmp, {
      packages: lock ? [] : spec.packages,
      requirementFiles: lock ? [lock] : spec.requirements,
      requireHashes: lock !== undefined,
      index: spec.index,
      cacheDir: options.cacheDir,
      environment: spec.name,
      specFile: spec.file,
    });
    const next = await finishSitePackages(tmp, manifest);
    // The file index lists every entry with its sha256: publishers reuse
    // unchanged files from the previous version by it, and anyone can check a
    // published copy against it. It, the manifest and the SBOM describe the
    // content, so they are not part of the content hash.
    const index = await indexTree(tmp, (rel) => !METADATA_FILES.has(rel));
    const contentHash = hashIndex(index);
    const finished: EnvironmentManifest = { ...next, name: spec.name, description: spec.description, version: contentHash.slice(0, 16), contentHash, inputHash: options.inputHash };
    await writeJsonAtomic(path.join(tmp, FILES_INDEX), { schemaVersion: 1, contentHash, entries: index });
    await writeJsonAtomic(path.join(tmp, SBOM_FILE), environmentSbom(finished));
    return finished;
  });
}

function shellOf(activator: string): string {
  const name = activator.split('/').pop()!;
  return { activate: 'sh', 'activate.fish': 'fish', 'activate.bat': 'cmd', 'Activate.ps1': 'powershell', 'deactivate.bat': 'cmd-deactivate' }[name] ?? name;
}

async function derive(
  options: { inputPath: string; outputPath: string },
  work: (tmp: string, manifest: EnvironmentManifest) => Promise<EnvironmentManifest>,
): Promise<EnvironmentManifest> {
  const manifest = await readManifest(options.inputPath);
  return buildDirectoryAtomically(options.outputPath, async (tmp) => {
    await copyTree(options.inputPath, tmp, { link: true });
    const next = await work(tmp, manifest);
    await writeManifest(tmp, next);
    return next;
  });
}

async function finishSitePackages(root: string, manifest: EnvironmentManifest): Promise<EnvironmentManifest> {
  const { scriptsDir, sitePackages } = manifest.entryPoints;
  await makeScriptsRelocatable(root, scriptsDir, sitePackages);
  await compileBytecode(root, [sitePackages]);
  return { ...manifest, packages: await listPackages(root) };
}
