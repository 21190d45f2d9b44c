import type { CreateNodesContextV2 } from '@nx/devkit';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
// Nx's own option handling, as `nx run` applies it before an executor runs.
import { setDefaults, validateOptsAgainstSchema } from 'nx/src/utils/params';
import { testdir } from '../../../../tools/testing';
import { createNodesV2 } from '../plugins/plugin';

const PLUGIN = path.resolve(__dirname, '..', '..');
const executors = JSON.parse(readFileSync(path.join(PLUGIN, 'executors.json'), 'utf8')).executors as Record<string, { schema: string }>;
const schemaOf = (name: string) => JSON.parse(readFileSync(path.join(PLUGIN, executors[name].schema), 'utf8'));

/** Nx's validation of one target's options (what failed for every object-form "python" before). */
function nxAccepts(executor: string, options: Record<string, unknown>): void {
  const schema = schemaOf(executor);
  const combined = setDefaults({ ...options }, schema);
  validateOptsAgainstSchema(combined, schema);
}

const sha = 'c'.repeat(64);
/** One environment per documented form of "python", and the spec fields that reach target options. */
const SPECS: Record<string, unknown> = {
  bare: { python: '3.12' },
  installed: { python: { version: '3.12', source: 'installed' } },
  standalone: { python: { version: '3.12.11', source: 'standalone', release: '20250604', mirror: 'file:///mirror', sha256: sha } },
  archive: { python: { archive: '../../pythons/cpython.tar.gz', sha256: sha } },
  msi: { python: { msi: '../../pythons/python.msi', sha256: sha } },
  nuget: { python: { nuget: '3.12.7', sha256: sha, package: 'python', feed: 'file:///feed' } },
  tests: { python: '3.12', includeStdlibTests: true, installer: 'uv', layout: 'self-contained' },
  derived: { base: 'bare', publish: { to: 'directory', keep: 2, keepDays: 0 } },
  git: { python: '3.11', publish: { to: 'git', depot: '/tmp/depot.git', branch: 'main', lfs: false } },
  archives: { python: '3.11', publish: { to: 'archive', formats: ['tar.zst', 'zip'] } },
  // "platforms": every platform's targets (venv-windows, …), the Windows runtime mapped by the plugin's "pythons".
  both: { python: '3.11', platforms: ['linux', 'windows'] },
  'windows-only': { python: '3.11', platforms: ['windows'] },
};
const PYTHONS = { windows: { '3.11': { nuget: '3.11.9', sha256: sha } } };

describe('executor schemas under Nx option validation', () => {
  it('accept every target the plugin infers, for every documented form of every field', async () => {
    const { dir, cleanup } = testdir(Object.fromEntries(Object.entries(SPECS).map(([name, spec]) => [`environments/${name}/environment.json`, JSON.stringify(spec)])));
    try {
      const context: CreateNodesContextV2 = { workspaceRoot: dir, nxJsonConfiguration: {} };
      const files = Object.keys(SPECS).map((name) => `environments/${name}/environment.json`);
      const results = await createNodesV2[1](files, { pythons: PYTHONS }, context);
      let checked = 0;
      const runtimes = new Set<string>();
      for (const [, result] of results) {
        for (const project of Object.values(result.projects ?? {})) {
          for (const [target, config] of Object.entries(project.targets ?? {})) {
            if (String(config.executor).startsWith('nx:')) continue; // Nx's own (the publish of every platform: nx:noop)
            const executor = String(config.executor).split(':')[1];
            expect(() => nxAccepts(executor, config.options ?? {})).not.toThrow();
            if (executor === 'runtime') runtimes.add(JSON.stringify(config.options.python));
            checked++;
            void target;
          }
        }
      }
      // Every Python form reached a runtime target (bare and installed 3.12 differ; the derived one has none).
      expect(runtimes.size).toBe(8);
      expect(checked).toBeGreaterThan(60);
    } finally {
      cleanup();
    }
  });

  it('accept hand-written options of the executors inference does not use, and the options users pass on the command line', () => {
    nxAccepts('unpack', { environment: 'environments/x/environment.json', outputPath: 'dist/x/unpack' });
    nxAccepts('ensurepip', { inputPath: 'dist/x/unpack', outputPath: 'dist/x/ensurepip' });
    nxAccepts('build-wheel', { outputPath: 'dist/python/lib', python: '3.12' });
    nxAccepts('rollback', { environment: 'environments/x/environment.json', to: '3f0c1e', publisher: 'git', depot: 'git@host:depot.git', branch: 'main' });
    nxAccepts('publish', { to: 'archive', formats: ['zip'], depot: 'dist/out', keep: 3, keepDays: 0, groupWritable: true, audit: false });
    nxAccepts('verify', { to: 'directory', depot: 'dist/depot', audit: true });
    nxAccepts('install', { installer: 'uv' });
    expect(() => nxAccepts('install', { installer: 'conda' })).toThrow(/installer/);
  });
});
