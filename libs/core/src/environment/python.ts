import * as path from 'node:path';
import { isolatedPythonEnv } from '../process/python-env';
import { run, RunOptions, RunResult } from '../process/run';
import { EnvironmentLayout, hostLayout, pythonPath } from './layout';

/** Helper scripts shipped with the core library, run by the environment's own interpreter. */
export const HELPERS_DIR = path.resolve(__dirname, '..', '..', 'python');

/** Run the environment's interpreter, isolated from the machine's Python and pip settings. */
export function runPython(root: string, args: string[], options: RunOptions = {}, layout: EnvironmentLayout = hostLayout()): Promise<RunResult> {
  return run(pythonPath(root, layout), args, { env: isolatedPythonEnv(), ...options });
}

/** Byte-compile `dirs` (relative to root) into unchecked-hash pycs with root-relative names; only what is new since `previous` (the stage root was hard-linked from). */
export async function compileBytecode(root: string, dirs: string[], previous?: string, log?: (message: string) => void): Promise<void> {
  const { stdout } = await runPython(root, ['-I', path.join(HELPERS_DIR, 'compile.py'), ...(previous ? ['--previous', previous] : []), root, ...dirs], {
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

export async function listPackages(root: string): Promise<InstalledPackage[]> {
  const { stdout } = await runPython(root, ['-I', path.join(HELPERS_DIR, 'packages.py')], { failure: 'cannot list installed packages' });
  return JSON.parse(stdout) as InstalledPackage[];
}
