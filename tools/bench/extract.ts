/**
 * Benchmark: pydepot's extractor (every safety rule: names checked, links
 * last, budgets, no escape) against the system's `tar -xzf` on the same
 * archive, the order alternated per round, median of per-round ratios. The
 * archive is a runtime-sized tree (a pyenv CPython prefix, ~3,000 files,
 * packed as a fresh clone receives a runtime from the remote cache).
 *
 *   node -r ./libs/nx-plugin/bin/register.js tools/bench/extract.ts [rounds]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { extractArchive } from '../../libs/core/src/extract/extract';
import { pyenvPython } from '../testing';

const rounds = Number(process.argv[2] ?? 8);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  const root = path.join(os.tmpdir(), `pydepot-bench-extract-${process.pid}`);
  mkdirSync(root, { recursive: true });
  try {
    const prefix = path.dirname(path.dirname(pyenvPython('3.12')));
    const archive = path.join(root, 'runtime.tar.gz');
    const packed = spawnSync('tar', ['-czf', archive, '-C', prefix, '--exclude=./lib/python3.12/test', '.']);
    if (packed.status !== 0) throw new Error(`tar -czf failed: ${packed.stderr}`);
    const ours = async (dest: string) => {
      const t = performance.now();
      await extractArchive(archive, dest);
      return performance.now() - t;
    };
    const tar = async (dest: string) => {
      mkdirSync(dest);
      const t = performance.now();
      const r = spawnSync('tar', ['-xzf', archive, '-C', dest]);
      if (r.status !== 0) throw new Error(`tar -xzf failed: ${r.stderr}`);
      return performance.now() - t;
    };
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const [a, b] = [path.join(root, `ours-${round}`), path.join(root, `tar-${round}`)];
      const [x, y] = round % 2 === 0 ? [await ours(a), await tar(b)] : [await tar(b), await ours(a)].reverse();
      ratios.push(x / y);
      console.error(`round ${round + 1}: pydepot ${x.toFixed(0)} ms, tar ${y.toFixed(0)} ms (${(x / y).toFixed(2)})`);
      rmSync(a, { recursive: true, force: true });
      rmSync(b, { recursive: true, force: true });
    }
    console.log(`| pydepot's extractor ÷ tar -xzf, a CPython prefix (median of ${rounds} per-round ratios) | ${median(ratios).toFixed(2)} | ≤ 1.0–1.2 |`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
