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
  const packages = (options.packages ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (options.base && options.python) throw new Error('--base and --python exclude each other: an environment built on a base runs its Python');
  if (options.base && !tree.exists(`environments/${options.base}/environment.json`)) {
    throw new Error(`--base ${options.base}: there is no environments/${options.base}/environment.json (name an existing environment)`);
  }
  const spec = {
    $schema: '../../libs/core/src/spec/environment.schema.json',
    ...(options.description ? { description: options.description } : {}),
    ...(options.base ? { base: options.base } : { python: options.python ?? '3.12' }),
    ...(options.installer ? { installer: options.installer } : {}),
    packages,
    verify: { imports: packages.map(importName).filter((m): m is string => m !== undefined) },
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

/** "Pillow==11.3.0" → undefined (module PIL: not guessable); "click>=8" → "click"; "rich[jupyter]" → "rich". */
export function importName(requirement: string): string | undefined {
  const name = /^[A-Za-z0-9][A-Za-z0-9._-]*/.exec(requirement)?.[0];
  if (!name) return undefined;
  const known: Record<string, string | undefined> = { pillow: 'PIL', pyyaml: 'yaml', 'scikit-learn': 'sklearn', 'opencv-python': 'cv2', beautifulsoup4: 'bs4', 'markdown-it-py': 'markdown_it' };
  const key = name.toLowerCase();
  if (key in known) return known[key];
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name.replace(/-/g, '_')) ? name.replace(/-/g, '_').toLowerCase() : undefined;
}
