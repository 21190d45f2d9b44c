import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The layer order docs/ARCHITECTURE.md states for libs/core/src, enforced:
 * a folder imports only the folders before it (leaves first), never one
 * after it, so there is no import cycle between folders. A new folder must
 * be placed here and in the doc's code layout, in the same order.
 */
export const LAYERS = ['errors', 'process', 'fs', 'download', 'extract', 'model', 'tools', 'interpreter', 'distribution', 'environment', 'library', 'installer', 'publish', 'verify', 'pipeline'];

const SRC = __dirname;

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [p] : [];
  });
}

/** errors.ts → "errors"; fs/atomic.ts → "fs"; index.ts (the library's face) → undefined. */
function layerOf(file: string): string | undefined {
  const rel = path.relative(SRC, file).split(path.sep);
  if (rel.length === 1) return rel[0] === 'index.ts' ? undefined : rel[0].replace(/\.ts$/, '');
  return rel[0];
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:from\s+|require\(\s*|import\(\s*)'(\.{1,2}\/[^']+)'/g)) out.push(path.resolve(path.dirname(file), m[1]));
  return out;
}

describe('libs/core/src layers', () => {
  const files = sources(SRC);

  it('every folder has a place in the order', () => {
    const unknown = [...new Set(files.map(layerOf).filter((l): l is string => l !== undefined && !LAYERS.includes(l)))];
    expect(unknown).toEqual([]);
  });

  it('imports point down the order only (no folder-level cycle)', () => {
    const violations: string[] = [];
    for (const file of files) {
      const from = layerOf(file);
      if (from === undefined) continue;
      for (const target of importsOf(file)) {
        const to = layerOf(target.endsWith('.json') ? target : `${target}.ts`);
        if (to === undefined || to === from) continue;
        if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) violations.push(`${path.relative(SRC, file)} (${from}) imports ${path.relative(SRC, target)} (${to}), a layer above it`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('docs/ARCHITECTURE.md lists the layers in this order', () => {
    const doc = readFileSync(path.join(SRC, '..', '..', '..', 'docs', 'ARCHITECTURE.md'), 'utf8');
    const block = doc.slice(doc.indexOf('\nlibs/core/src/ '), doc.indexOf('\nlibs/core/native/'));
    const positions = LAYERS.map((layer) => ({ layer, at: block.search(new RegExp(`^  ${layer}(/|\\.ts)`, 'm')) }));
    expect(positions.filter((p) => p.at < 0).map((p) => p.layer)).toEqual([]);
    const sorted = [...positions].sort((a, b) => a.at - b.at).map((p) => p.layer);
    expect(sorted).toEqual(LAYERS);
  });
});
