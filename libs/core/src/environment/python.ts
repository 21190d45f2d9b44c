import * as path from 'node:path';
import { isolatedPythonEnv } from '../process/python-env';
import { run, RunOptions, RunResult } from '../process/run';
import { standInInterpreter } from '../interpreter/windows';
import { foreignPlatformOf } from '../model/platform';
import { EnvironmentLayout, hostLayout, pythonPath } from './layout';

/** Helper scripts shipped with the core library, run by the environment's own interpreter. */
export const HELPERS_DIR = path.resolve(__dirname, '..', '..', 'python');

/** Run the environment's interpreter, isolated from the machine's Python and pip settings. */
export function runPython(root: string, args: string[], options: RunOptions = {}, layout: EnvironmentLayout = hostLayout()): Promise<RunResult> {
  return run(pythonPath(root, layout), args, { env: isolatedPythonEnv(), ...options });
}

/**
 * Who does an environment's build-time Python work: its own interpreter
 * (undefined), or, for an environment of another OS (a Windows version built
 * on Linux), the agent's CPython of the same version (interpreter/windows.ts).
 */
export function standInFor(manifest: { platform: string; python: { version: string } }): string | undefined {
  return foreignPlatformOf(manifest) ? standInInterpreter(manifest.python.version).executable : undefined;
}

function runHelper(root: string, standIn: string | undefined, args: string[], options: RunOptions): Promise<RunResult> {
  return standIn ? run(standIn, args, { env: isolatedPythonEnv(), ...options }) : runPython(root, args, options);
}

/** Byte-compile `dirs` (relative to root) into unchecked-hash pycs with root-relative names; only what is new since `previous` (the stage root was hard-linked from). */
export async function compileBytecode(root: string, dirs: string[], previous?: string, log?: (message: string) => void, standIn?: string): Promise<void> {
  const { stdout } = await runHelper(root, standIn, ['-I', path.join(HELPERS_DIR, 'compile.py'), ...(previous ? ['--previous', previous] : []), root, ...dirs], {
    failure: 'byte-compiling failed',
    hint: 'the environment\'s interpreter could not run the byte-compiler: see the output above',
  });
  // Files that do not compile (templates named *.py, code for another Python) are skipped, as pip does.
  for (const line of stdout.split('\n')) if (line.startsWith('warning:')) log?.(line);
}

export interface InstalledPackage {
  name: string;
  version: string;
  /** sha256 of the distribution's RECORD (every installed file with its hash). */
  recordSha256?: string;
}

/** The distributions in the environment's site-packages (`standIn`: read by the agent's CPython, from `sitePackages`). */
export async function listPackages(root: string, standIn?: { python: string; sitePackages: string }): Promise<InstalledPackage[]> {
  const args = ['-I', path.join(HELPERS_DIR, 'packages.py'), ...(standIn ? [path.join(root, standIn.sitePackages)] : [])];
  const { stdout } = await runHelper(root, standIn?.python, args, { failure: 'cannot list installed packages' });
  return JSON.parse(stdout) as InstalledPackage[];
}
