/**
 * Benchmark: the install step (the install target) of the example environments with
 * uv versus pip, and each against the raw command it wraps, side by side,
 * alternating, in one process.
 *
 *   node -r ./libs/nx-plugin/bin/register.js tools/bench/install.ts [rounds]
 *
 * For each environment the earlier stages are built once. Then each round
 * times, in turn:
 *   - raw pip:    `python -m pip install <packages>` into a hard-linked copy of the venv stage
 *   - pydepot pip: installRequirements with pip (copy, install, relocatable scripts,
 *                  unchecked-hash bytecode, file index, SBOM)
 *   - raw uv:     `uv pip install --compile-bytecode <packages>` into a copy
 *                  (bytecode included: a published environment ships its .pyc,
 *                  as pip's default install does)
 *   - pydepot uv:  installRequirements with uv
 * Caches are warm for all four (one unmeasured round first), so the ratios
 * measure the installers and pydepot's own work, not the network. Absolute
 * times on these shared machines are noise: read the ratios (medians).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  bootstrapPip,
  cacheDir,
  createEnvironment,
  ensureWheelTool,
  getInstaller,
  installRequirements,
  isolatedPythonEnv,
  loadEnvironmentSpec,
  pipInstallArgs,
  pythonPath,
  unpackDistribution,
  UV,
  uvInstallArgs,
} from '../../libs/core/src';

const REPO = path.resolve(__dirname, '../..');
const ENVIRONMENTS = ['maxscript-imaging', 'cli-tools'];
const rounds = Number(process.argv[2] ?? 3);
const quiet = { log: () => undefined };

function must(cmd: string, args: string[], env: NodeJS.ProcessEnv): void {
  const r = spawnSync(cmd, args, { env, encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
}

async function time(fn: () => unknown): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e9;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'pydepot-bench-install-'));
  const uv = await ensureWheelTool(UV);
  const env = isolatedPythonEnv();
  const cache = cacheDir();
  const results: Record<string, Record<string, number[]>> = {};
  try {
    const prepared = [];
    for (const name of ENVIRONMENTS) {
      const spec = loadEnvironmentSpec(path.join(REPO, 'environments', name, 'environment.json'));
      const stage = (s: string) => path.join(root, name, s);
      await unpackDistribution({ spec, outputPath: stage('unpack'), cacheDir: cache, ...quiet });
      await bootstrapPip({ inputPath: stage('unpack'), outputPath: stage('ensurepip'), ...quiet });
      await createEnvironment({ inputPath: stage('ensurepip'), outputPath: stage('venv'), name, ...quiet });
      prepared.push({ name, spec, venv: stage('venv') });
      results[name] = { 'raw pip': [], 'pydepot pip': [], 'raw uv': [], 'pydepot uv': [], 'installer pip': [], 'installer uv': [] };
    }
    for (let round = 0; round <= rounds; round++) {
      for (const { name, spec, venv } of prepared) {
        const request = { packages: spec.packages, requirementFiles: spec.requirements, index: spec.index, cacheDir: cache, environment: name, specFile: spec.file };
        const target = path.join(root, name, `round-${round}`);
        const copy = (tag: string) => {
          const dir = `${target}-${tag}`;
          must('cp', ['-al', venv, dir], env);
          return dir;
        };
        const raw = {
          pip: (dir: string) => must(pythonPath(dir), ['-m', 'pip', ...pipInstallArgs(request).filter((a) => a !== '--no-compile')], env),
          uv: (dir: string) => must(uv, [...uvInstallArgs(dir, request), '--compile-bytecode'], { ...env, UV_PYTHON_DOWNLOADS: 'never', UV_NO_PROGRESS: '1' }),
        };
        for (const installer of ['pip', 'uv'] as const) {
          const dir = copy(`raw-${installer}`);
          const rawTime = await time(() => raw[installer](dir));
          const pydepotTime = await time(() => installRequirements({ inputPath: venv, outputPath: `${target}-pydepot-${installer}`, spec: { ...spec, installer }, cacheDir: cache, ...quiet }));
          // The installer call alone, as pydepot makes it (no bytecode: pydepot compiles separately).
          const phase = copy(`phase-${installer}`);
          const installerTime = await time(() => getInstaller(installer).install(phase, request));
          rmSync(phase, { recursive: true, force: true });
          // Round 0 warms the caches and is not counted.
          if (round > 0) {
            results[name][`raw ${installer}`].push(rawTime);
            results[name][`pydepot ${installer}`].push(pydepotTime);
            results[name][`installer ${installer}`].push(installerTime);
          }
          rmSync(dir, { recursive: true, force: true });
          rmSync(`${target}-pydepot-${installer}`, { recursive: true, force: true });
        }
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`install step, median of ${rounds} rounds (warm caches)`);
  console.log('environment         raw pip  pydepot pip  raw uv  pydepot uv  pip call  uv call | uv speed-up: step  installer call | pydepot/raw: pip    uv');
  for (const [name, r] of Object.entries(results)) {
    const m = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, median(v)]));
    const s = (k: string, w: number) => `${m[k].toFixed(2)}s`.padStart(w);
    const x = (a: string, b: string, w: number) => `${(m[a] / m[b]).toFixed(2)}×`.padStart(w);
    console.log(
      `${name.padEnd(19)}${s('raw pip', 8)}${s('pydepot pip', 13)}${s('raw uv', 8)}${s('pydepot uv', 12)}${s('installer pip', 10)}${s('installer uv', 9)} |${x('pydepot pip', 'pydepot uv', 18)}${x('installer pip', 'installer uv', 16)} |${x('pydepot pip', 'raw pip', 17)}${x('pydepot uv', 'raw uv', 6)}`,
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
