import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { getPublisher } from '../../libs/core/src';
import { pyenvPython, testdir } from '../testing';
import { buildEnvironment, quiet } from './helpers';

jest.setTimeout(900_000);

/**
 * CPython's own tests for what relocation touches, run by a published
 * environment (stdlib tests kept) moved to a path with spaces and non-ASCII,
 * compared with the same tests run by the source interpreter. A test that
 * fails only on the environment must be listed here, with the reason (and in
 * docs/RELOCATION.md, "Differences from the source interpreter").
 */
const TESTS = ['test_sysconfig', 'test_site', 'test_venv', 'test_subprocess', 'test_compileall'];
/** Keyed by module and test name ("test_venv.test_x"): the class name moves between versions. */
const DOCUMENTED: Record<string, string> = {
  // The build-only Makefile names absolute build paths; sysconfig reads _sysconfigdata instead.
  'test_sysconfig.test_get_makefile_filename': 'config-3.X/Makefile is pruned',
  // Copies the bare executable out of the environment, and runs a venv made from that copy
  // without LD_LIBRARY_PATH: a relocatable interpreter has no absolute path to its libpython.
  'test_venv.test_zippath_from_non_installed_posix': 'a copy of bin/python without lib/ finds libpython only through LD_LIBRARY_PATH',
};

function failures(junit: string): string[] {
  if (!existsSync(junit)) return ['<no junit report>'];
  const xml = readFileSync(junit, 'utf8');
  const failed: string[] = [];
  for (const m of xml.matchAll(/<testcase ([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
    if (!/<(failure|error)\b/.test(m[3] ?? '')) continue;
    const attr = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(m[1])?.[1] ?? '';
    failed.push(`${attr('classname')}.${attr('name')}`.replace(/^\./, ''));
  }
  return failed.sort();
}

function runTests(python: string, junit: string, cwd: string): { status: number | null; tail: string } {
  const result = spawnSync(python, ['-m', 'test', ...TESTS, '-j2', '--junit-xml', junit], {
    cwd,
    env: { PATH: '/usr/bin:/bin', HOME: process.env.HOME, LANG: 'C.UTF-8' },
    encoding: 'utf8',
  });
  return { status: result.status, tail: `${result.stdout}${result.stderr}`.slice(-3000) };
}

/**
 * Differences of the shared layout only. The environment is a venv of its runtime, so it is compared
 * with a plain `python -m venv` of the source interpreter (CPython's suite assumes a non-venv
 * interpreter: its venv-scheme and upgrade-dependencies tests fail in any venv).
 */
const DOCUMENTED_SHARED: Record<string, string> = {
  // The launcher sets the runtime as home; as with PYTHONHOME, CPython then ignores a ._pth file
  // beside a linked copy of the interpreter.
  'test_site.test_underpth_basic': 'a ._pth file beside the interpreter is not read',
  'test_site.test_underpth_file': 'a ._pth file beside the interpreter is not read',
  'test_site.test_underpth_nosite_file': 'a ._pth file beside the interpreter is not read',
};

describe.each([
  ['3.12', 'self-contained'],
  ['3.13', 'self-contained'],
  ['3.12', 'shared'],
  ['3.13', 'shared'],
] as const)("CPython %s's own tests on a relocated environment (layout %s)", (minor, layout) => {
  const { dir, cleanup } = testdir({}, `pydepot-cpytests-${minor}-${layout}-`);
  afterAll(cleanup);

  it(`gives the source interpreter's results, but for the documented differences`, async () => {
    const specFile = path.join(dir, 'ws/environments/stdlib-tests/environment.json');
    mkdirSync(path.dirname(specFile), { recursive: true });
    writeFileSync(specFile, JSON.stringify({ python: minor, includeStdlibTests: true, layout }));
    const { manifest, root } = await buildEnvironment(specFile, path.join(dir, 'ws/dist/pydepot/stdlib-tests'));
    const depot = path.join(dir, 'ws/dist/depot');
    const published = (await getPublisher(depot).publish({ buildPath: root, manifest, ...quiet })).location;
    // The shared layout moves as a depot (the environment finds its runtime in it); the self-contained one alone.
    const share = path.join(dir, 'Tööls Share');
    mkdirSync(share, { recursive: true });
    const moved = layout === 'shared' ? path.join(share, 'stdlib depot', 'stdlib-tests', path.basename(published)) : path.join(share, 'stdlib tests');
    cpSync(layout === 'shared' ? depot : published, layout === 'shared' ? path.join(share, 'stdlib depot') : moved, { recursive: true, verbatimSymlinks: true });
    const work = path.join(dir, 'work');
    mkdirSync(work);

    const relocated = runTests(path.join(moved, 'bin/python'), path.join(dir, 'relocated.xml'), work);
    let baseline = realpathSync(pyenvPython(minor));
    if (layout === 'shared') {
      execFileSync(baseline, ['-m', 'venv', path.join(dir, 'plain-venv')]);
      baseline = path.join(dir, 'plain-venv/bin/python');
    }
    const source = runTests(baseline, path.join(dir, 'source.xml'), work);
    const onlyRelocated = failures(path.join(dir, 'relocated.xml')).filter((t) => !failures(path.join(dir, 'source.xml')).includes(t));
    const key = (id: string) => `${id.split('.')[1]}.${id.split('.').pop()}`;
    const undocumented = onlyRelocated.filter((t) => !(key(t) in DOCUMENTED) && !(layout === 'shared' && key(t) in DOCUMENTED_SHARED));
    expect({ undocumented, tail: undocumented.length ? relocated.tail : '' }).toEqual({ undocumented: [], tail: '' });
    // The comparison means something: both ran the suites to the end.
    expect(relocated.tail).toMatch(/Total tests: run=\d{3,}/);
    expect(source.tail).toMatch(/Total tests: run=\d{3,}/);
  });
});
