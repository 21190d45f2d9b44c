import type { Tree } from '@nx/devkit';
import { environmentSchema, parseEnvironmentSpec, validateJson } from '@pydepot/core';
import type { EnvironmentGeneratorSchema } from './schema';

/**
 * `nx g @pydepot/nx-plugin:environment <name> --python 3.12 --packages pillow`:
 * writes environments/<name>/environment.json, validated against the spec
 * schema before anything is written, with smoke checks that import each
 * package's top-level module where it can be guessed.
 */
export default async function environmentGenerator(tree: Tree, options: EnvironmentGeneratorSchema): Promise<void> {
  const root = `environments/${options.name}`;
  const file = `${root}/environment.json`;
  if (tree.exists(file)) throw new Error(`${file} already exists: pick another name or edit it`);
  const packages = String(rawOption('packages', options.packages) ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (options.base && options.python !== undefined) throw new Error('--base and --python exclude each other: an environment built on a base runs its Python');
  if (options.base && !tree.exists(`environments/${options.base}/environment.json`)) {
    throw new Error(`--base ${options.base}: there is no environments/${options.base}/environment.json (name an existing environment)`);
  }
  const python = rawOption('python', options.python);
  const spec = {
    $schema: '../../libs/core/src/model/environment.schema.json',
    ...(options.description ? { description: String(options.description) } : {}),
    ...(options.base ? { base: String(options.base) } : { python: python ?? '3.12' }),
    ...(options.installer ? { installer: options.installer } : {}),
    packages,
    // Module names come from each package's installed metadata at verify time, never from a guess.
    ...(packages.length ? { verify: { importPackages: true } } : {}),
  };
  const text = `${JSON.stringify(spec, null, 2)}\n`;
  // The same validation the build runs: a bad --python or package fails here, not later.
  // (With a base, the schema only: the base is read from the tree above, not from disk.)
  if (options.base) {
    const issues = validateJson(spec, environmentSchema);
    if (issues.length) throw new Error(`${file}: ${issues.map((i) => `field "${i.field}" ${i.message}`).join('; ')}`);
  } else parseEnvironmentSpec(text, file, options.name);
  tree.write(file, text);
}

/**
 * Nx's command line turns `--python 3.10` into the number 3.1 before the
 * generator sees it: take the option's text as typed from the command line
 * when a number arrived (programmatic callers pass strings).
 */
export function rawOption(name: string, value: unknown, argv: string[] = process.argv): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  for (let i = argv.length - 1; i >= 0; i--) {
    if (argv[i] === `--${name}` && i + 1 < argv.length) return argv[i + 1];
    if (argv[i].startsWith(`--${name}=`)) return argv[i].slice(name.length + 3);
  }
  return String(value);
}
