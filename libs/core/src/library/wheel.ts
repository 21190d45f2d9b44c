import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';
import { buildDirectoryAtomically } from '../fs/atomic';
import { findInterpreter } from '../interpreter/discover';
import { isolatedPythonEnv } from '../process/python-env';
import { run } from '../process/run';
import { ensureWheelTool, UV } from '../tools/tool-cache';
import { readPyproject } from './pyproject';

/** 1980-01-01, the earliest date a zip entry can hold: every build of the same source gives the same bytes. */
const SOURCE_DATE_EPOCH = '315532800';

export interface BuiltWheel {
  file: string;
  name: string;
  version: string;
}

/**
 * Build an in-repo package's wheel with the pinned uv (`uv build --wheel`),
 * reproducibly (SOURCE_DATE_EPOCH, no user or machine configuration), into
 * `outputPath`, atomically: the folder holds exactly that one wheel, or is
 * left as it was. The build backend comes from the package's
 * `[build-system]`, resolved from PyPI in an isolated build environment.
 */
export async function buildWheel(options: { projectDir: string; outputPath: string; cacheDir: string; python?: string; log: (m: string) => void }): Promise<BuiltWheel> {
  const pyproject = path.join(options.projectDir, 'pyproject.toml');
  const info = readPyproject(pyproject);
  if (!info.name) {
    throw new PydepotError(`${pyproject}: no [project] name`, { path: pyproject, hint: 'an in-repo Python package needs a PEP 621 [project] table with "name" and "version"' });
  }
  const uv = await ensureWheelTool(UV);
  const interpreter = findInterpreter(options.python ?? '3');
  options.log(`building the wheel of ${info.name} with uv (CPython ${interpreter.version})`);
  return buildDirectoryAtomically(options.outputPath, async (tmp) => {
    await run(
      uv,
      ['build', '--wheel', '--no-config', '--quiet', '--out-dir', tmp, '--cache-dir', path.join(options.cacheDir, 'uv-v1'), '--python', interpreter.executable, options.projectDir],
      {
        env: { ...isolatedPythonEnv(), UV_PYTHON_DOWNLOADS: 'never', UV_NO_PROGRESS: '1', SOURCE_DATE_EPOCH },
        failure: `cannot build the wheel of ${info.name} (${options.projectDir})`,
        hint: `check ${pyproject} ([project] and [build-system]); \`uv build --wheel ${options.projectDir}\` shows the same error`,
        tailLines: 25,
      },
    );
    // uv leaves its own bookkeeping (.gitignore) next to the wheel: keep only the wheel.
    const wheels = (await fs.readdir(tmp)).filter((f) => f.endsWith('.whl'));
    for (const entry of await fs.readdir(tmp)) if (!entry.endsWith('.whl')) await fs.rm(path.join(tmp, entry), { recursive: true, force: true });
    if (wheels.length !== 1) throw new PydepotError(`uv built ${wheels.length} wheels for ${info.name}, expected one`, { path: options.projectDir });
    const [name, version] = wheels[0].split('-');
    return { file: path.join(options.outputPath, wheels[0]), name, version };
  });
}

/** The wheels of in-repo packages, given their wheel folders (the build-wheel outputs). */
export async function listWheels(dirs: string[]): Promise<BuiltWheel[]> {
  const out: BuiltWheel[] = [];
  for (const dir of dirs) {
    const files = (await fs.readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.whl'));
    if (files.length === 0) throw new PydepotError(`no wheel in ${dir}`, { path: dir, hint: 'build it first: `nx run <package>:build-wheel` (install depends on it)' });
    for (const f of files) {
      const [name, version] = f.split('-');
      out.push({ file: path.join(dir, f), name, version });
    }
  }
  return out;
}
