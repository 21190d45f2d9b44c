import { existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EnvironmentLayout, hostLayout, pythonPath, scriptsPath } from '../environment/layout';
import { formatError, PydepotError } from '../errors';
import { isolatedPythonEnv } from '../process/python-env';
import { run as runProcess, RunOptions } from '../process/run';
import { WindowsRunner } from '../tools/wine';

export interface SmokeChecks {
  imports: string[];
  commands: string[][];
  /** Import the top-level modules of these distributions (names), found from their installed metadata. */
  importPackages?: boolean;
  packages?: string[];
}

/**
 * Distribution name → its top-level import names: what its RECORD says it
 * installed (top_level.txt only without a RECORD: it is written by hand and
 * can be wrong, e.g. PySide6-Essentials lists a "Shiboken" it does not ship).
 */
const PACKAGE_MODULES_PROBE = `
import importlib.metadata as md, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        out[name] = None
        continue
    names = set()
    for f in dist.files or []:
        first = f.parts[0]
        if first in ("..", "__pycache__") or first.endswith((".dist-info", ".data", ".pth")):
            continue
        if len(f.parts) > 1:
            names.add(first)
        elif first.endswith(".py"):
            names.add(first[:-3])
        elif first.endswith((".so", ".pyd")):
            names.add(first.split(".")[0])
    if not names and dist.files is None:
        names = set((dist.read_text("top_level.txt") or "").split())
    out[name] = sorted(n for n in names if n.isidentifier() and not n.startswith("_"))
print(json.dumps(out))
`;

const IMPORT_PROBE = `
import importlib, json, sys
failed = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except BaseException as error:
        failed[name] = "%s: %s" % (type(error).__name__, error)
print(json.dumps(failed))
`;

/**
 * Run an environment's smoke checks from outside any build folder (cwd is the
 * temp dir, PATH starts with the environment's scripts). Collects every
 * failure before throwing, so one run shows them all.
 */
export async function runSmokeChecks(root: string, checks: SmokeChecks, layout: EnvironmentLayout = hostLayout(), windows?: WindowsRunner): Promise<string[]> {
  const scripts = windows ? path.join(root, ...layout.scriptsDir.split('/')) : scriptsPath(root, layout);
  const env = { ...isolatedPythonEnv(), PATH: [scripts, process.env.PATH ?? ''].join(path.delimiter), ...windows?.env };
  // A Windows environment on another OS: each program runs under Wine (always through pipes: Wine cannot hand a
  // Windows console program a redirected file as its standard stream).
  const python = windows ? path.join(root, ...layout.python.split('/')) : pythonPath(root, layout);
  const run = (file: string, args: string[], options: RunOptions) => (windows ? runProcess(windows.file, [file, ...args], options) : runProcess(file, args, options));
  const passed: string[] = [];
  const failures: string[] = [];
  const imports = [...checks.imports];
  if (checks.importPackages && checks.packages?.length) {
    const { stdout } = await run(python, ['-c', PACKAGE_MODULES_PROBE, ...checks.packages], { env, cwd: os.tmpdir(), failure: 'the package metadata check could not run' });
    for (const [name, modules] of Object.entries(JSON.parse(stdout) as Record<string, string[] | null>)) {
      if (modules === null) failures.push(`package ${name}: not installed (named in "packages")`);
      else if (modules.length === 0) failures.push(`package ${name}: its metadata lists no importable module (set "verify.imports" by hand)`);
      else imports.push(...modules.filter((m) => !imports.includes(m)));
    }
  }
  if (imports.length) {
    const { stdout } = await run(python, ['-c', IMPORT_PROBE, ...imports], { env, cwd: os.tmpdir(), failure: 'the import check could not run' });
    const failed = JSON.parse(stdout) as Record<string, string>;
    for (const name of imports) {
      if (failed[name]) failures.push(`import ${name}: ${failed[name]}`);
      else passed.push(`import ${name}`);
    }
  }
  for (const argv of checks.commands) {
    const [command, ...args] = argv;
    const exe = command === 'python' ? python : path.join(scripts, windows && !/\.exe$/i.test(command) ? `${command}.exe` : command);
    if (!existsSync(exe)) {
      failures.push(`${argv.join(' ')}: "${command}" is not in ${scripts}`);
      continue;
    }
    try {
      await run(exe, args, { env, cwd: os.tmpdir(), failure: `${argv.join(' ')} failed`, tailLines: 10 });
      passed.push(argv.join(' '));
    } catch (error) {
      failures.push(formatError(error));
    }
  }
  if (failures.length) {
    throw new PydepotError(`smoke checks failed for ${root}:\n${failures.map((f) => `  - ${f}`).join('\n')}`, {
      path: root,
      hint: 'fix the packages or the "verify" checks in the environment spec, then publish again',
    });
  }
  return passed;
}
