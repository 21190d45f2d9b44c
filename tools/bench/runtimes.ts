/**
 * Benchmark: one runtime per Python (docs/PERFORMANCE.md, "Shared runtimes").
 * Everything is measured against an honest baseline in the same run, the
 * order alternated per round, and reported as the median of per-round ratios:
 *
 *  1. scale: a cold `nx run-many -t publish` of 10 environments on 2 Pythons
 *     versus one of 2 environments (one per Python);
 *  2. cached: a fully cached `nx run-many -t publish` (build folder in place,
 *     no daemon, as on CI) versus Nx's own floor: a generated workspace with
 *     the same task graph (2 runtime projects, N × venv → install →
 *     publish, same cache flags) made of trivial commands, the same
 *     node_modules, .env and .gitignore; at 2, 10, 50 and 100 environments
 *     (BENCH_SIZES), each workspace built once, then alternated every round;
 *     the cost of each added environment (the slope from 10 to the largest
 *     size) on both sides; plus the bytes a cached run writes;
 *  3. one environment with the uv installer on an already-built runtime (the
 *     everyday case: a new tool on a Python the workspace has) versus the
 *     by-hand floor: `uv venv --relocatable` on the same runtime, `uv pip
 *     install` of the same wheels with the same uv, `compileall`;
 *  4. storage of the 10 environments: the depot as a version-control system
 *     syncs it (every path's bytes, hard links counted per path), the Nx
 *     cache and the build folder, against 2 × runtime + their packages;
 *  5. a fresh clone served entirely from the remote cache versus the floor
 *     workspace's fresh clone served from the same kind of server.
 *
 *   node -r ./libs/nx-plugin/bin/register.js tools/bench/runtimes.ts [rounds]
 *
 * Packages come from local wheels (downloaded once from PyPI in the warm-up),
 * so the network is not measured. Absolute seconds on these shared 2-core
 * machines are noise; read the ratios.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureWheelTool, isolatedPythonEnv, UV } from '../../libs/core/src';
import { makeWheel, pyenvPython } from '../testing';
import { startCacheServer } from '../testing/cache-server';

const REPO = path.resolve(__dirname, '../..');
const rounds = Number(process.argv[2] ?? 3);
const PYTHONS = ['3.11', '3.12'];
const SHARED_WHEELS = ['click==8.5.1'];
const nxEnv = (extra: NodeJS.ProcessEnv = {}) => ({ ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FORCE_COLOR: '0', ...extra });

function must(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { ...options, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function time(fn: () => unknown): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Run both, ours first on even rounds and second on odd ones; returns [ours, theirs]. */
function alternate(round: number, ours: () => number, theirs: () => number): [number, number] {
  if (round % 2 === 0) {
    const a = ours();
    return [a, theirs()];
  }
  const b = theirs();
  return [ours(), b];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const nx = (ws: string, args: string[], env: NodeJS.ProcessEnv = {}) => must(path.join(ws, 'node_modules/.bin/nx'), [...args, '--output-style=static'], { cwd: ws, env: nxEnv(env) });

/** A pydepot workspace (this repository's libs) with `count` small environments spread over the two Pythons. */
export function pydepotWorkspace(root: string, count: number, wheels: string, extra: Record<string, unknown> = {}): string {
  const ws = path.join(root, `pydepot-${count}`);
  mkdirSync(path.join(ws, 'environments'), { recursive: true });
  // The repository's own .gitignore too: without it Nx indexes dist/ (tens of thousands of files) on every run.
  for (const item of ['package.json', 'nx.json', 'tsconfig.base.json', '.env', '.gitignore', 'libs']) cpSync(path.join(REPO, item), path.join(ws, item), { recursive: true, filter: (src) => !src.includes('__snapshots__') });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(ws, 'node_modules'));
  for (let i = 0; i < count; i++) {
    const dir = path.join(ws, 'environments', `tool-${i}`);
    mkdirSync(dir);
    const spec = { python: PYTHONS[i % PYTHONS.length], packages: [`tool-${i}==1.0.0`, ...SHARED_WHEELS], index: { noIndex: true, findLinks: [wheels] }, verify: { commands: [[`tool-${i}`]] }, ...extra };
    writeFileSync(path.join(dir, 'environment.json'), JSON.stringify(spec, null, 2));
  }
  must('git', ['init', '-q'], { cwd: ws });
  return ws;
}

/** Nx's floor: the same task graph (2 runtimes, count × venv → install → publish), trivial commands, same cache flags. */
export function floorWorkspace(root: string, count: number): string {
  const ws = path.join(root, `floor-${count}`);
  mkdirSync(ws, { recursive: true });
  writeFileSync(path.join(ws, 'package.json'), JSON.stringify({ name: 'floor', private: true }));
  writeFileSync(path.join(ws, 'nx.json'), JSON.stringify({ cacheDirectory: '.nx/cache', neverConnectToCloud: true, analytics: false }));
  // The same .env (Nx settings such as NX_ISOLATE_PLUGINS) and .gitignore as the pydepot side: only the tasks differ.
  for (const item of ['.env', '.gitignore']) cpSync(path.join(REPO, item), path.join(ws, item));
  symlinkSync(path.join(REPO, 'node_modules'), path.join(ws, 'node_modules'));
  const cmd = (cache: boolean, dependsOn: unknown[] = []) => ({ executor: 'nx:run-commands', options: { command: 'true' }, cache, inputs: ['{projectRoot}/**/*'], outputs: [], dependsOn });
  for (const py of PYTHONS) {
    mkdirSync(path.join(ws, 'runtimes', py), { recursive: true });
    writeFileSync(path.join(ws, 'runtimes', py, 'project.json'), JSON.stringify({ name: `python-${py}`, targets: { runtime: cmd(true) } }));
  }
  for (let i = 0; i < count; i++) {
    const dir = path.join(ws, 'environments', `tool-${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'project.json'),
      JSON.stringify({
        name: `tool-${i}`,
        targets: {
          venv: cmd(true, [{ projects: [`python-${PYTHONS[i % PYTHONS.length]}`], target: 'runtime' }]),
          install: cmd(true, ['venv']),
          publish: cmd(false, ['install']),
        },
      }),
    );
  }
  must('git', ['init', '-q'], { cwd: ws });
  return ws;
}

/** Every regular file under the roots with its identity: a rewrite changes it. */
function fileStates(roots: string[]): Map<string, string> {
  const out = new Map<string, string>();
  const visit = (dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const p = path.join(dir, name);
      const st = lstatSync(p);
      if (st.isDirectory()) visit(p);
      else if (st.isFile()) out.set(p, `${st.ino}:${st.mtimeMs}:${st.size}`);
    }
  };
  roots.forEach(visit);
  return out;
}

/** Bytes of the files created or rewritten between two states. */
function bytesWritten(before: Map<string, string>, after: Map<string, string>): number {
  let bytes = 0;
  for (const [p, state] of after) if (before.get(p) !== state) bytes += Number(state.split(':')[2]);
  return bytes;
}

/** Bytes as a version-control system syncs a tree: every path's size, hard links counted per path, symlinks as links. */
function syncedBytes(root: string): number {
  return Number(must('du', ['-sbl', '--apparent-size', root]).split('\t')[0]);
}

function freshClone(ws: string, into: string): string {
  mkdirSync(into, { recursive: true });
  for (const name of readdirSync(ws)) if (!['dist', '.nx', 'node_modules'].includes(name)) cpSync(path.join(ws, name), path.join(into, name), { recursive: true, verbatimSymlinks: true });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(into, 'node_modules'));
  return into;
}

async function main(): Promise<void> {
  const root = path.join(os.tmpdir(), `pydepot-bench-runtimes-${process.pid}`);
  mkdirSync(root, { recursive: true });
  const wheels = path.join(root, 'wheels');
  mkdirSync(wheels);
  must(pyenvPython('3.12'), ['-m', 'pip', 'download', '-q', '--only-binary=:all:', '-d', wheels, ...SHARED_WHEELS], { env: isolatedPythonEnv() });
  for (let i = 0; i < 10; i++) makeWheel(wheels, `tool-${i}`, '1.0.0', { script: `tool-${i}` });
  const uv = await ensureWheelTool(UV);
  const rows: string[] = [];
  const ratios = { scale: [] as number[], uv: [] as number[], clone: [] as number[], cloneTar: [] as number[] };
  const sizes = (process.env.BENCH_SIZES ?? '2,10,50,100').split(',').map(Number);
  const cached = new Map<number, { ours: number[]; floor: number[]; ratio: number[]; written: number }>(sizes.map((n) => [n, { ours: [], floor: [], ratio: [], written: 0 }]));
  let storage = '';
  let runtimeSteps = '';
  // The scale series: one pydepot workspace and one floor per size, built once; two cached runs settle publish's
  // cache entries (the first after a build records the depot state it found), then every round measures them.
  const scaleWorkspaces = new Map<number, { ws: string; floor: string }>();
  for (let i = 10; i < Math.max(...sizes); i++) makeWheel(wheels, `tool-${i}`, '1.0.0', { script: `tool-${i}` });
  const scaleRoot = path.join(root, 'scale');
  mkdirSync(scaleRoot);
  for (const count of sizes) {
    const ws = pydepotWorkspace(scaleRoot, count, wheels);
    const floor = floorWorkspace(scaleRoot, count);
    nx(ws, ['run-many', '-t', 'publish', '--parallel=2']);
    for (let settle = 0; settle < 2; settle++) nx(ws, ['run-many', '-t', 'publish']);
    nx(floor, ['run-many', '-t', 'publish']);
    scaleWorkspaces.set(count, { ws, floor });
    console.error(`scale workspace of ${count} environments built`);
  }
  try {
    for (let round = 0; round < rounds; round++) {
      const dir = path.join(root, `round-${round}`);
      mkdirSync(dir);
      const two = pydepotWorkspace(dir, 2, wheels);
      const ten = pydepotWorkspace(dir, 10, wheels);
      // 1. scale: alternate which cold build goes first.
      const cold: Record<string, number> = {};
      const order = round % 2 ? [ten, two] : [two, ten];
      let tenLog = '';
      for (const ws of order) {
        let out = '';
        cold[ws] = time(() => (out = nx(ws, ['run-many', '-t', 'publish', '--parallel=2'])));
        if (ws === ten) tenLog = out;
      }
      ratios.scale.push(cold[ten] / cold[two]);
      runtimeSteps = `${(tenLog.match(/installing pip with ensurepip/g) ?? []).length} ensurepip runs and ${(tenLog.match(/copying installed CPython/g) ?? []).length} interpreter copies for 10 environments`;
      // 2. cached versus the floor, at every size (workspaces built once, before the rounds).
      for (const [count, { ws, floor }] of scaleWorkspaces) {
        const entry = cached.get(count)!;
        const run = () => {
          const before = fileStates([path.join(ws, 'dist'), path.join(ws, '.nx')]);
          const t = time(() => nx(ws, ['run-many', '-t', 'publish']));
          entry.written = bytesWritten(before, fileStates([path.join(ws, 'dist'), path.join(ws, '.nx')]));
          return t;
        };
        const [ours, theirs] = alternate(round, run, () => time(() => nx(floor, ['run-many', '-t', 'publish'])));
        entry.ours.push(ours);
        entry.floor.push(theirs);
        entry.ratio.push(ours / theirs);
      }
      // 4. storage of the 10 environments (first round).
      if (round === 0) {
        const runtimes = path.join(ten, 'dist/depot/_runtimes');
        const runtimeBytes = readdirSync(runtimes).filter((n) => n.startsWith('cpython-')).map((n) => syncedBytes(path.join(runtimes, n)));
        const packages = readdirSync(path.join(ten, 'dist/depot'))
          .filter((n) => n.startsWith('tool-'))
          .map((n) => syncedBytes(path.join(ten, 'dist/depot', n, readFileSync(path.join(ten, 'dist/depot', n, 'current.json'), 'utf8').match(/"version": "(\w+)"/)![1], 'lib')))
          .reduce((a, b) => a + b, 0);
        const budget = 2 * Math.max(...runtimeBytes) + packages;
        const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
        const depot = syncedBytes(path.join(ten, 'dist/depot')) - syncedBytes(path.join(ten, 'dist/depot/.objects'));
        const cache = syncedBytes(path.join(ten, '.nx/cache'));
        const build = syncedBytes(path.join(ten, 'dist/pydepot'));
        storage = [
          `| budget: 2 × runtime (${mib(Math.max(...runtimeBytes))}) + the 10 environments' packages (${mib(packages)}) | ${mib(budget)} | 1.00 | |`,
          `| depot as a VCS syncs it (every path, links per path; the content store excluded: it is the same files again) | ${mib(depot)} | ${(depot / budget).toFixed(2)} | ≤ 1.00 |`,
          `| .nx/cache | ${mib(cache)} | ${(cache / budget).toFixed(2)} | ≤ 1.50 |`,
          `| build folder dist/pydepot | ${mib(build)} | ${(build / budget).toFixed(2)} | ≤ 1.50 |`,
        ].join('\n');
      }
      // 5. a fresh clone served from the remote cache, versus the floor's.
      {
        const server = await startCacheServer(['--dir', path.join(dir, 'store'), '--token', 'bench', '--quiet']);
        const url = server.url;
        try {
          const env = { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 'bench' };
          const floor = floorWorkspace(path.join(dir, 'remote-floor'), 2);
          // Fill the server from clones with empty caches (every task and both runtime trees), as CI would.
          nx(freshClone(two, path.join(dir, 'fill')), ['run-many', '-t', 'publish'], env);
          nx(freshClone(floor, path.join(dir, 'floor-fill')), ['run-many', '-t', 'publish'], env);
          const clone = () => time(() => nx(freshClone(two, path.join(dir, `clone-${Date.now()}`)), ['run-many', '-t', 'publish'], env));
          const floorClone = () => time(() => nx(freshClone(floor, path.join(dir, `floor-clone-${Date.now()}`)), ['run-many', '-t', 'publish'], env));
          // What no pipeline can skip on an empty depot: the runtimes' files written. The floor writes none, so a second
          // baseline adds the system's tar unpacking the same two runtime trees side by side (gzip level 1, as shared).
          const trees = readdirSync(path.join(two, 'dist/pydepot/_runtimes')).filter((n) => n.startsWith('cpython-'));
          const archives = trees.map((id) => {
            const file = path.join(dir, `${id}.tar.gz`);
            must('tar', ['-C', path.join(two, 'dist/pydepot/_runtimes', id), '-cf', file, '-I', 'gzip -1', '.']);
            return file;
          });
          const tarBoth = () => {
            const into = archives.map((_, i) => path.join(dir, `untar-${Date.now()}-${i}`));
            into.forEach((d) => mkdirSync(d));
            return time(() => must('bash', ['-c', `${archives.map((a, i) => `tar -xzf '${a}' -C '${into[i]}' &`).join(' ')} wait`]));
          };
          const [ours, theirs] = alternate(round, clone, floorClone);
          const untar = tarBoth();
          ratios.clone.push(ours / theirs);
          ratios.cloneTar.push(ours / (theirs + untar));
        } finally {
          await server.stop();
        }
      }
      // 3. one more environment with uv on the built 3.12 runtime versus the by-hand floor.
      {
        const env = path.join(two, 'environments', 'uv-tool');
        mkdirSync(env);
        writeFileSync(path.join(env, 'environment.json'), JSON.stringify({ python: '3.12', installer: 'uv', packages: ['tool-0==1.0.0', ...SHARED_WHEELS], index: { noIndex: true, findLinks: [wheels] } }));
        const runtime = path.join(two, 'dist/pydepot/_runtimes', readdirSync(path.join(two, 'dist/pydepot/_runtimes')).find((n) => n.startsWith('cpython-3.12'))!);
        const hand = path.join(dir, 'by-hand');
        const pydepot = () => time(() => nx(two, ['run', 'uv-tool:publish']));
        // The cheapest sensible way by hand (issue 22's baseline): a relocatable venv on the same runtime, not a copy of it.
        const byHand = () =>
          time(() => {
            must(uv, ['venv', '-q', '--relocatable', '--python', path.join(runtime, 'bin/python3'), hand], { env: { ...isolatedPythonEnv(), UV_PYTHON_DOWNLOADS: 'never' } });
            must(uv, ['pip', 'install', '-q', '--python', path.join(hand, 'bin/python'), '--no-index', '--find-links', wheels, 'tool-0==1.0.0', ...SHARED_WHEELS], { env: isolatedPythonEnv() });
            must(path.join(hand, 'bin/python'), ['-m', 'compileall', '-q', path.join(hand, 'lib/python3.12/site-packages')]);
          });
        const [ours, theirs] = alternate(round, pydepot, byHand);
        ratios.uv.push(ours / theirs);
      }
      console.error(
        `round ${round + 1}: scale ${ratios.scale[round].toFixed(2)}, cached/floor ${[...cached].map(([n, c]) => `${c.ratio[round].toFixed(2)} (${n})`).join(' ')}, uv env/by hand ${ratios.uv[round].toFixed(2)}, clone/floor ${ratios.clone[round].toFixed(2)} (÷ floor + tar ${ratios.cloneTar[round].toFixed(2)})`,
      );
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const m = (xs: number[]) => median(xs).toFixed(2);
  rows.push(`| measurement (median of ${rounds} per-round ratios) | ratio | target |`, '| --- | --- | --- |');
  rows.push(`| cold build, 10 environments on 2 Pythons ÷ 2 environments (${runtimeSteps}) | ${m(ratios.scale)} | ≤ 2.0 |`);
  for (const [count, c] of cached) {
    const target = count >= 100 ? '≤ 1.3' : count >= 10 ? '≤ 1.5' : '';
    rows.push(`| fully cached \`run-many -t publish\` ÷ Nx floor, ${count} environments (${(median(c.ours) * 1000).toFixed(0)} / ${(median(c.floor) * 1000).toFixed(0)} ms; ${(c.written / 2 ** 20).toFixed(2)} MiB written) | ${m(c.ratio)} | ${target} |`);
  }
  // Each added environment: the slope from 10 environments to the largest size, per round, on both sides.
  const [small, large] = [10, Math.max(...sizes)].map((n) => cached.get(n));
  if (small && large && large !== small) {
    const span = Math.max(...sizes) - 10;
    const slope = (c: number[], d: number[]) => c.map((x, i) => ((x - d[i]) / span) * 1000);
    const [ours, floor] = [slope(large.ours, small.ours), slope(large.floor, small.floor)];
    rows.push(`| cost of each added environment, cached (10 → ${Math.max(...sizes)}): ${median(ours).toFixed(1)} ms ÷ the floor's ${median(floor).toFixed(1)} ms | ${(median(ours) / median(floor)).toFixed(2)} | ≤ 1.5 |`);
  }
  rows.push(`| one new environment with uv on a built runtime ÷ by hand (uv venv --relocatable, uv pip install, compileall) | ${m(ratios.uv)} | ≤ 5.0 |`);
  rows.push(`| fresh clone served from the remote cache ÷ the floor's fresh clone | ${m(ratios.clone)} | ≤ 3.0 |`);
  rows.push(`| fresh clone ÷ (the floor's fresh clone + \`tar -xzf\` of the two runtime trees side by side) | ${m(ratios.cloneTar)} | |`);
  console.log(rows.join('\n'));
  console.log('\n| storage, 10 environments | bytes | ÷ budget | target |\n| --- | --- | --- | --- |');
  console.log(storage);
}

if (require.main === module)
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
