import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { writeJsonAtomic } from '../fs/atomic';
import { InstalledPackage } from './python';

/** The manifest at the root of every built and published environment. */
export const MANIFEST_FILE = 'pydepot.json';
export const MANIFEST_SCHEMA_VERSION = 1;
/** Index of every file of an environment with its sha256 (written by the install stage). */
export const FILES_INDEX = 'pydepot-files.json';
/** The CycloneDX SBOM at the root of every built and published environment. */
export const SBOM_FILE = 'sbom.cdx.json';
/** Files that describe an environment's content rather than being part of it (not in the content hash). */
export const METADATA_FILES = new Set([MANIFEST_FILE, FILES_INDEX, SBOM_FILE]);

export interface EnvironmentManifest {
  schemaVersion: number;
  name?: string;
  description?: string;
  /** Content-derived id (tree hash prefix); the published folder name. */
  version?: string;
  /** Full tree hash the version is cut from. */
  contentHash?: string;
  /** Nx hash of the task that installed the packages (its inputs). */
  inputHash?: string;
  /** The environment this one was built on, and its version then. */
  base?: { name: string; version: string };
  /**
   * The smoke checks of the spec this version was built from: what the
   * publish gate ran, and what `verify` runs on it later (after a rollback,
   * the spec may already name packages this version does not have).
   */
  verify?: { imports: string[]; commands: string[][]; importPackages?: boolean; packages?: string[] };
  platform: string;
  /**
   * Layout "shared": the runtime this environment runs on, published once in
   * the depot's `_runtimes/`; `path` is relative to the environment's root
   * (pyvenv.cfg's `home` is its bin folder).
   */
  runtime?: { id: string; path: string };
  python: {
    implementation: 'cpython';
    version: string;
    /** Where the interpreter came from: kind plus the source's own fields. */
    source: { kind: string; [key: string]: unknown };
  };
  /**
   * The contract for host applications (3ds Max, Maya, Blender, Houdini …):
   * every path is relative to the folder holding this file, with forward slashes.
   */
  entryPoints: {
    /** The interpreter. */
    python: string;
    /** Console scripts and activators. */
    scriptsDir: string;
    /** Folders to prepend to PATH. */
    path?: string[];
    /** Where the packages are (for sys.path, when the host embeds the same Python minor). */
    sitePackages: string;
    /** Activation scripts, by shell. */
    activate?: Record<string, string>;
  };
  packages: InstalledPackage[];
}

export async function readManifest(root: string): Promise<EnvironmentManifest> {
  const file = path.join(root, MANIFEST_FILE);
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as EnvironmentManifest;
  } catch (error) {
    throw new PydepotError(`cannot read ${file}: ${(error as Error).message}`, {
      path: file,
      hint: 'the previous stage did not complete: run the target again (e.g. `nx run <env>:install`)',
    });
  }
}

export async function writeManifest(root: string, manifest: EnvironmentManifest): Promise<void> {
  await writeJsonAtomic(path.join(root, MANIFEST_FILE), manifest);
}
