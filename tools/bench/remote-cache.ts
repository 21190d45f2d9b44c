/**
 * Benchmark: a fresh clone served by the shared remote cache versus the cold
 * build of the clone that filled it, side by side in one run.
 *
 *   node -r @swc-node/register tools/bench/remote-cache.ts [rounds]
 *
 * Each round: a new cache server on 127.0.0.1 with an empty store, clone A
 * (empty local cache) runs `nx run-many -t publish` cold, then clone B (empty
 * local cache) runs the same and gets every build target from the server.
 * Target: B's run within 10 % of A's.
 */
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { testdir } from '../testing';
import { makeWorkspace, nxWith, REPO } from '../e2e/helpers';

const rounds = Number(process.argv[2] ?? 2);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const cold: number[] = [];
  const served: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const { dir, cleanup } = testdir({}, 'pydepot-bench-remote-');
    const child = spawn(process.execPath, [path.join(REPO, 'tools/cache-server/server.js'), '--dir', path.join(dir, 'store'), '--port', '0', '--token', 'bench', '--quiet']);
    const url = await new Promise<string>((resolve) => child.stdout.on('data', (d) => resolve(/(http:\/\/[\d.:]+)/.exec(String(d))![1])));
    const env = { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 'bench' };
    const a = makeWorkspace();
    const b = makeWorkspace();
    try {
      for (const [ws, into] of [[a.ws, cold], [b.ws, served]] as const) {
        const t = process.hrtime.bigint();
        const run = nxWith(env, ws, 'run-many', '-t', 'publish');
        if (run.status !== 0) throw new Error(run.out);
        into.push(Number(process.hrtime.bigint() - t) / 1e9);
      }
      console.error(`round ${i + 1}: clone A cold ${cold[i].toFixed(1)} s, clone B from the remote cache ${served[i].toFixed(1)} s`);
    } finally {
      child.kill();
      a.cleanup();
      b.cleanup();
      cleanup();
    }
  }
  const [c, s] = [median(cold), median(served)];
  console.log(`| measurement (median of ${rounds}, 2 example environments) | seconds | ratio |`);
  console.log('| --- | --- | --- |');
  console.log(`| clone A: cold nx run-many -t publish (fills the remote cache) | ${c.toFixed(1)} | 1.00 |`);
  console.log(`| clone B: fresh clone, every build target from the remote cache | ${s.toFixed(1)} | ${((s / c) * 100).toFixed(0)} % of A (target <= 10 %) |`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
