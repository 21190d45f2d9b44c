/**
 * Benchmark: publishing, side by side with the raw commands it replaces.
 *
 *   node -r ./libs/nx-plugin/bin/register.js tools/bench/publish.ts [rounds]
 *
 * 1. A full publish of a real environment into an empty depot versus a plain
 *    `cp -a` of the same tree (target: within 1.2x).
 * 2. Re-publishing the unchanged environment (target: 0 bytes written).
 * 3. Publishing after one small package changed, versus that package's
 *    installed size (target: at most 1.5x).
 * Bytes are what the publisher reports writing and what `du` sees added to
 * the depot (hard links count once).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { cacheDir, getPublisher, installRequirements, loadEnvironmentSpec } from '../../libs/core/src';
import { buildEnvironment, quiet } from '../e2e/helpers';
import { makeWheel, testdir } from '../testing';

const rounds = Number(process.argv[2] ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const du = (p: string) => Number(execFileSync('du', ['-sb', p]).toString().split('\t')[0]);

async function main(): Promise<void> {
  const { dir, cleanup } = testdir({}, 'pydepot-bench-publish-');
  try {
    const wheels = path.join(dir, 'ws/wheels');
    mkdirSync(wheels, { recursive: true });
    // A small package in two versions (~40 KB of code), so "one package changed" is measurable.
    const body = (v: string) => `__version__ = '${v}'\n${'# filler line of a module body\n'.repeat(1200)}def main():\n    print('hello-tool ${v}')\n`;
    makeWheel(wheels, 'hello-tool', '1.0.0', { script: 'hello-tool', module: body('1.0.0') });
    makeWheel(wheels, 'hello-tool', '1.1.0', { script: 'hello-tool', module: body('1.1.0') });
    const spec = (v: string) => {
      const file = path.join(dir, `ws/environments/tool-${v}/environment.json`);
      mkdirSync(path.dirname(file), { recursive: true });
      writeFileSync(file, JSON.stringify({ python: '3.12', packages: [`hello-tool==${v}`], index: { noIndex: true, findLinks: ['../../wheels'] } }));
      return file;
    };
    const build = path.join(dir, 'ws/dist/pydepot/tool');
    const { manifest: v1 } = await buildEnvironment(spec('1.0.0'), build);
    const v2 = await installRequirements({ inputPath: path.join(build, 'venv'), outputPath: path.join(build, 'env2'), spec: { ...loadEnvironmentSpec(spec('1.1.0')), name: v1.name! }, cacheDir: cacheDir(), ...quiet });
    const pkgSize = du(path.join(build, 'env2/lib/python3.12/site-packages/hello_tool')) + du(path.join(build, 'env2/lib/python3.12/site-packages/hello_tool-1.1.0.dist-info')) + du(path.join(build, 'env2/bin/hello-tool'));

    const full: number[] = [];
    const cp: number[] = [];
    let unchangedBytes = -1;
    let changedBytes = 0;
    let changedDu = 0;
    for (let i = 0; i < rounds; i++) {
      const depot = path.join(dir, `depot-${i}`);
      const copy = path.join(dir, `cp-${i}`);
      const runPublish = async () => {
        const t = process.hrtime.bigint();
        await getPublisher(depot).publish({ buildPath: path.join(build, 'env'), manifest: v1, ...quiet });
        full.push(Number(process.hrtime.bigint() - t) / 1e9);
      };
      const runCp = () => {
        const t = process.hrtime.bigint();
        const r = spawnSync('cp', ['-a', path.join(build, 'env'), copy]);
        if (r.status !== 0) throw new Error('cp failed');
        cp.push(Number(process.hrtime.bigint() - t) / 1e9);
      };
      execFileSync('sync');
      if (i % 2) {
        await runPublish();
        runCp();
      } else {
        runCp();
        await runPublish();
      }
      const again = await getPublisher(depot).publish({ buildPath: path.join(build, 'env'), manifest: v1, ...quiet });
      unchangedBytes = Math.max(unchangedBytes, again.bytesWritten);
      const before = du(depot);
      const next = await getPublisher(depot).publish({ buildPath: path.join(build, 'env2'), manifest: v2, ...quiet });
      changedBytes = next.bytesWritten;
      changedDu = du(depot) - before;
      rmSync(depot, { recursive: true, force: true });
      rmSync(copy, { recursive: true, force: true });
    }
    const [p, c] = [median(full), median(cp)];
    console.log(`| measurement (median of ${rounds}, CPython 3.12 environment, ${(du(path.join(build, 'env')) / 1048576).toFixed(0)} MiB) | value | ratio / target |`);
    console.log('| --- | --- | --- |');
    console.log(`| cp -a of the environment | ${c.toFixed(2)} s | 1.00 |`);
    console.log(`| full publish into an empty depot | ${p.toFixed(2)} s | ${(p / c).toFixed(2)}x cp -a (target <= 1.2x) |`);
    console.log(`| re-publish unchanged | ${unchangedBytes} bytes written | target 0 |`);
    console.log(`| publish after hello-tool 1.0.0 -> 1.1.0 (installed size ${(pkgSize / 1024).toFixed(1)} KiB) | ${(changedBytes / 1024).toFixed(1)} KiB written, depot grew ${(changedDu / 1024).toFixed(1)} KiB | ${(changedBytes / pkgSize).toFixed(2)}x the package (target <= 1.5x) |`);
  } finally {
    cleanup();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
