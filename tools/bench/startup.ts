/**
 * Benchmark: start-up of a published environment, side by side in one run.
 *
 *   node -r @swc-node/register tools/bench/startup.ts [runs]
 *
 * 1. `python -c pass` of the published interpreter versus the base
 *    interpreter it was copied from (target: within 1.1x).
 * 2. A tree synced by version control loses mtimes: every file gets the
 *    checkout time. Import pip's CLI from such a tree (read-only, as on a
 *    share) with pydepot's unchecked-hash bytecode, versus the same tree with
 *    the timestamp bytecode a plain `pip install` writes; and count the .pyc
 *    files Python rewrites when the tree is writable (target: none).
 *
 * Runs alternate between the two sides; read the ratios, not the seconds.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { getPublisher } from '../../libs/core/src';
import { buildEnvironment, quiet } from '../e2e/helpers';
import { makeWheel, pyenvPython, testdir } from '../testing';

const runs = Number(process.argv[2] ?? 30);
const env = { PATH: '/usr/bin:/bin', HOME: process.env.HOME ?? '/' };

function timeRun(file: string, args: string[]): number {
  const start = process.hrtime.bigint();
  const r = spawnSync(file, args, { env, cwd: '/', stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - start) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Alternate a and b `runs` times; medians in ms. */
function sideBySide(a: () => number, b: () => number): [number, number] {
  const as: number[] = [];
  const bs: number[] = [];
  for (let i = 0; i < 3; i++) a(), b(); // warm the page cache
  for (let i = 0; i < runs; i++) {
    if (i % 2) as.push(a()), bs.push(b());
    else bs.push(b()), as.push(a());
  }
  return [median(as), median(bs)];
}

/** What a VCS sync does to mtimes: everything gets the time of the sync. */
function resetMtimes(root: string, when: string): void {
  execFileSync('find', [root, '-exec', 'touch', '-h', '-d', when, '{}', '+']);
}

function pycState(root: string): string {
  return execFileSync('bash', ['-c', `find "${root}" -name '*.pyc' -printf '%p %s %T@\\n' | sort | sha256sum`]).toString();
}

async function main(): Promise<void> {
  const { dir, cleanup } = testdir({}, 'pydepot-bench-startup-');
  try {
    const wheels = path.join(dir, 'ws/wheels');
    mkdirSync(wheels, { recursive: true });
    makeWheel(wheels, 'hello-tool', '1.0.0', { script: 'hello-tool' });
    const specFile = path.join(dir, 'ws/environments/startup/environment.json');
    mkdirSync(path.dirname(specFile), { recursive: true });
    writeFileSync(specFile, JSON.stringify({ python: '3.12', packages: ['hello-tool==1.0.0'], index: { noIndex: true, findLinks: ['../../wheels'] } }));
    const { manifest, root } = await buildEnvironment(specFile, path.join(dir, 'ws/dist/pydepot/startup'));
    const published = (await getPublisher(path.join(dir, 'depot')).publish({ buildPath: root, manifest, ...quiet })).location;
    const base = pyenvPython('3.12');

    const [pub, raw] = sideBySide(
      () => timeRun(path.join(published, 'bin/python'), ['-c', 'pass']),
      () => timeRun(base, ['-c', 'pass']),
    );

    // The synced trees: the whole depot (the environment and the runtime it runs on, as a VCS syncs them), with
    // pydepot's bytecode, and the same depot with timestamp bytecode in the environment and the runtime alike.
    const depot = path.join(dir, 'depot');
    const environmentIn = (tree: string) => path.join(tree, path.relative(depot, published));
    const synced = path.join(dir, 'synced');
    cpSync(depot, synced, { recursive: true, verbatimSymlinks: true });
    const stamped = path.join(dir, 'stamped');
    cpSync(depot, stamped, { recursive: true, verbatimSymlinks: true });
    execFileSync(path.join(environmentIn(stamped), 'bin/python'), ['-m', 'compileall', '-q', '-f', '--invalidation-mode', 'timestamp', stamped], { env });
    for (const tree of [synced, stamped]) resetMtimes(tree, '2026-01-01 12:00:00');

    // Writable first: does Python rewrite any bytecode?
    const importPip = ['-c', 'import pip._internal.cli.main, hello_tool, json, email.parser, http.client'];
    const rewritten = (tree: string) => {
      const before = pycState(tree);
      timeRun(path.join(environmentIn(tree), 'bin/python'), importPip);
      return before === pycState(tree) ? 'none' : 'some';
    };
    const rewrittenHash = rewritten(synced);
    const rewrittenStamp = rewritten(stamped);
    // The stamped tree just rewrote its bytecode: sync it again (a later sync, another time), then measure both read-only.
    resetMtimes(stamped, '2026-01-02 12:00:00');
    for (const tree of [synced, stamped]) execFileSync('chmod', ['-R', 'a-w', tree]);
    const [hashMs, stampMs] = sideBySide(
      () => timeRun(path.join(environmentIn(synced), 'bin/python'), importPip),
      () => timeRun(path.join(environmentIn(stamped), 'bin/python'), importPip),
    );
    for (const tree of [synced, stamped]) execFileSync('chmod', ['-R', 'u+w', tree]);

    console.log(`| measurement (median of ${runs}, CPython 3.12) | ms | ratio |`);
    console.log('| --- | --- | --- |');
    console.log(`| base interpreter: python -c pass | ${raw.toFixed(1)} | 1.00 |`);
    console.log(`| published interpreter: python -c pass | ${pub.toFixed(1)} | ${(pub / raw).toFixed(2)}x base |`);
    console.log(`| synced read-only tree, timestamp .pyc (plain pip install): import pip's CLI | ${stampMs.toFixed(1)} | 1.00 |`);
    console.log(`| synced read-only tree, pydepot's unchecked-hash .pyc: import pip's CLI | ${hashMs.toFixed(1)} | ${(hashMs / stampMs).toFixed(2)}x |`);
    console.log(`| .pyc files rewritten after the sync (writable tree): pydepot ${rewrittenHash}, timestamp ${rewrittenStamp} | | |`);
  } finally {
    execFileSync('chmod', ['-R', 'u+w', dir]);
    cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
