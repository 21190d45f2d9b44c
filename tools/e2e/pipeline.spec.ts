import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { auditTree, cacheDir, getPublisher, installRequirements, loadEnvironmentSpec, runSmokeChecks, unpackDistribution } from '../../libs/core/src';
import { makeWheel, pyenvPython, testdir } from '../testing';
import { buildEnvironment, exec, grepText, quiet } from './helpers';

jest.setTimeout(300_000);

/**
 * The whole pipeline through the core library with a real CPython 3.12 and
 * real pip, from a local find-links folder (no network): build, publish,
 * then run the published copy moved and through a symlink with the build
 * output gone.
 */
describe('pipeline (CPython 3.12, local wheels)', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-e2e-');
  afterAll(cleanup);
  const wheels = path.join(dir, 'ws', 'wheels');
  mkdirSync(wheels, { recursive: true });
  makeWheel(wheels, 'hello-tool', '1.0.0', { script: 'hello-tool' });
  mkdirSync(path.join(dir, 'ws/environments/hello'), { recursive: true });
  writeFileSync(
    path.join(dir, 'ws/environments/hello/environment.json'),
    JSON.stringify({
      python: '3.12',
      layout: 'self-contained',
      packages: ['hello-tool==1.0.0'],
      index: { noIndex: true, findLinks: ['../../wheels'] },
      verify: { imports: ['hello_tool'], commands: [['hello-tool']] },
    }),
  );
  const build = path.join(dir, 'ws', 'dist', 'pydepot', 'hello');
  const depot = path.join(dir, 'ws', 'dist', 'depot');

  let location = '';
  it('builds and publishes a self-contained environment', async () => {
    const { manifest, root } = await buildEnvironment(path.join(dir, 'ws/environments/hello/environment.json'), build);
    expect(manifest.packages.map((p) => p.name)).toEqual(expect.arrayContaining(['hello-tool', 'pip']));
    expect(manifest.version).toMatch(/^[0-9a-f]{16}$/);
    expect(existsSync(path.join(root, 'bin/python'))).toBe(true);
    expect(existsSync(path.join(root, 'lib/python3.12/test'))).toBe(false);
    const result = await getPublisher(depot).publish({ buildPath: root, manifest, ...quiet });
    expect(result.copied).toBe(true);
    location = result.location;
  });

  it('runs from another folder and through a symlink with the build output removed', () => {
    const moved = path.join(dir, 'elsewhere', 'mount point', 'hello');
    mkdirSync(path.dirname(moved), { recursive: true });
    cpSync(location, moved, { recursive: true, verbatimSymlinks: true });
    // The build tree, the depot and the workspace itself are gone from view.
    renameSync(path.join(dir, 'ws'), path.join(dir, 'ws-hidden'));
    try {
      const link = path.join(dir, 'link-to-hello');
      symlinkSync(moved, link);
      for (const root of [moved, link]) {
        // Pinned: the interpreter runs from the folder's real path (a symlink such as `current` is resolved once, at start-up).
        const real = execFileSync('realpath', [root]).toString().trim();
        expect(exec(path.join(root, 'bin/python'), ['-c', 'import hello_tool, sys; print(sys.prefix)']).trim()).toBe(real);
        expect(exec(path.join(root, 'bin/hello-tool'))).toBe('hello-tool 1.0.0\n');
        expect(exec(path.join(root, 'bin/pip'), ['list', '--format=freeze'], { PIP_CONFIG_FILE: '/dev/null' })).toContain('hello-tool==1.0.0');
        const paths = JSON.parse(exec(path.join(root, 'bin/python'), ['-c', 'import json, sysconfig; print(json.dumps(sysconfig.get_paths()))']));
        for (const value of Object.values<string>(paths)) expect(value.startsWith(real)).toBe(true);
        expect(exec(path.join(root, 'bin/python3.12-config'), ['--prefix']).trim()).toBe(real);
      }
      // No text file names the workspace; the audit (text and binary) finds nothing either.
      expect(grepText(moved, path.join(dir, 'ws'))).toEqual([]);
    } finally {
      renameSync(path.join(dir, 'ws-hidden'), path.join(dir, 'ws'));
    }
  });

  it('passes the audit and its smoke checks from the depot', async () => {
    const spec = loadEnvironmentSpec(path.join(dir, 'ws/environments/hello/environment.json'));
    expect(await runSmokeChecks(location, spec.verify)).toEqual(['import hello_tool', 'hello-tool']);
    const source = path.dirname(path.dirname(pyenvPython('3.12')));
    expect(await auditTree(location, [path.join(dir, 'ws'), source])).toEqual([]);
  });

  it('installs with uv instead of pip: the same packages, relocatable scripts, no inode shared with uv\'s cache', async () => {
    const spec = { ...loadEnvironmentSpec(path.join(dir, 'ws/environments/hello/environment.json')), installer: 'uv' as const };
    const out = path.join(build, 'env-uv');
    const log: string[] = [];
    const manifest = await installRequirements({ inputPath: path.join(build, 'venv'), outputPath: out, spec, cacheDir: cacheDir(), log: (m) => log.push(m) });
    expect(log).toContain('installing hello-tool==1.0.0 with uv');
    expect(manifest.packages.map((p) => p.name)).toEqual(expect.arrayContaining(['hello-tool', 'pip']));
    expect(exec(path.join(out, 'bin/hello-tool'))).toBe('hello-tool 1.0.0\n');
    // uv copied the files out of its cache (--link-mode copy): each has one link.
    expect(statSync(path.join(out, 'lib/python3.12/site-packages/hello_tool/__init__.py')).nlink).toBe(1);
    expect(await auditTree(out, [path.join(dir, 'ws'), cacheDir()])).toEqual([]);
  });

  it('fails with the index\'s answer for a package that does not exist, and publishes nothing', async () => {
    const specFile = path.join(dir, 'ws/environments/missing/environment.json');
    mkdirSync(path.dirname(specFile), { recursive: true });
    writeFileSync(specFile, JSON.stringify({ python: '3.12', packages: ['no-such-package-pydepot==1.0'], index: { noIndex: true, findLinks: ['../../wheels'] } }));
    const error = await buildEnvironment(specFile, path.join(dir, 'ws/dist/pydepot/missing')).catch((e) => e);
    expect(String(error.message)).toContain('pip could not install the packages of environment "missing"');
    expect(String(error.output)).toMatch(/No matching distribution found for no-such-package-pydepot==1.0/);
    expect(error.hint).toContain(specFile);
    expect(existsSync(path.join(dir, 'ws/dist/pydepot/missing/env'))).toBe(false);
    expect(existsSync(path.join(depot, 'missing'))).toBe(false);
  });
});

describe('archive source (a CPython packed like python-build-standalone)', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-e2e-archive-');
  afterAll(cleanup);
  const prefix = path.dirname(path.dirname(pyenvPython('3.12')));
  const archive = path.join(dir, 'cpython-3.12-x86_64-unknown-linux-gnu-install_only.tar.gz');
  execFileSync('tar', ['-czf', archive, '--exclude=test', '--exclude=site-packages', '--exclude=__pycache__', '--exclude=*.a', '-C', path.dirname(prefix), '--transform', `s,^${path.basename(prefix)},python,`, path.basename(prefix)]);
  const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');

  it('extracts nothing when the sha256 does not match', async () => {
    const specFile = path.join(dir, 'env/environment.json');
    mkdirSync(path.dirname(specFile), { recursive: true });
    writeFileSync(specFile, JSON.stringify({ python: { archive: `file://${archive}`, sha256: 'f'.repeat(64) } }));
    const out = path.join(dir, 'bad');
    await expect(unpackDistribution({ spec: loadEnvironmentSpec(specFile), outputPath: out, cacheDir: path.join(dir, 'cache'), ...quiet })).rejects.toThrow(/sha256 mismatch.*nothing was extracted/);
    expect(existsSync(out)).toBe(false);
  });

  it('unpacks, relocates and runs it', async () => {
    const specFile = path.join(dir, 'env/environment.json');
    writeFileSync(specFile, JSON.stringify({ python: { archive: `file://${archive}`, sha256 } }));
    const out = path.join(dir, 'good');
    const manifest = await unpackDistribution({ spec: loadEnvironmentSpec(specFile), outputPath: out, cacheDir: path.join(dir, 'cache'), ...quiet });
    expect(manifest.python).toMatchObject({ version: expect.stringMatching(/^3\.12\./), source: { kind: 'archive', sha256 } });
    expect(exec(path.join(out, 'bin/python'), ['-c', 'import sys, ssl; print(sys.prefix)']).trim()).toBe(out);
    // Its libpython is its own, not the one of the interpreter it was packed from.
    const maps = exec(path.join(out, 'bin/python'), ['-c', 'print(open("/proc/self/maps").read())']);
    expect(maps).toContain(path.join(out, 'lib'));
    expect(maps).not.toContain(path.join(prefix, 'lib/libpython'));
  });
});
