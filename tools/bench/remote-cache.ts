/**
 * Benchmark: a fresh clone served by the shared remote cache, side by side in
 * one run:
 *   - clone B through the folder store vs clone A's cold build that filled it;
 *   - clone B through the bucket store (SeaweedFS on 127.0.0.1, the S3 API)
 *     vs clone B through the folder store, the same records in both.
 *
 *   node -r @swc-node/register tools/bench/remote-cache.ts [rounds]
 *
 * Each round: clone A (empty local cache) runs `nx run-many -t publish`
 * cold against a fresh folder-store server; its records are then copied,
 * byte for byte with their checksums, into an empty bucket prefix behind an
 * S3-store server. Two fresh clones then run the same command, one per
 * store, the order alternating between rounds. Reported: medians of the
 * per-round ratios. Targets: B (folder) <= 10 % of A; B (bucket) <= 1.3x B (folder).
 */
import * as path from 'node:path';
import { testdir } from '../testing';
import { startCacheServer } from '../testing/cache-server';
import { startSeaweedFs } from '../testing/seaweedfs';
import { makeWorkspace, nxWith } from '../e2e/helpers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { DirectoryStore, S3Store } = require('../cache-server/stores.js');

const rounds = Number(process.argv[2] ?? 3);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function timed(env: NodeJS.ProcessEnv): number {
  const w = makeWorkspace();
  try {
    const t = process.hrtime.bigint();
    const run = nxWith(env, w.ws, 'run-many', '-t', 'publish');
    if (run.status !== 0) throw new Error(run.out);
    return Number(process.hrtime.bigint() - t) / 1e9;
  } finally {
    w.cleanup();
  }
}

/** Copy every record of a folder store into a bucket prefix (sha256 and bytes unchanged). */
async function copyRecords(from: InstanceType<typeof DirectoryStore>, to: InstanceType<typeof S3Store>): Promise<number> {
  const entries = await from.list();
  for (const e of entries) {
    const record = await from.open(e.namespace, e.hash);
    await to.put(e.namespace, e.hash, { path: record.path, offset: record.offset, size: record.size, sha256: record.expected.sha256 });
  }
  return entries.length;
}

async function main(): Promise<void> {
  const { dir, cleanup } = testdir({}, 'pydepot-bench-remote-');
  const s3 = await startSeaweedFs(path.join(dir, 'seaweedfs'));
  const rows = { cold: [] as number[], folder: [] as number[], bucket: [] as number[], servedOfCold: [] as number[], bucketOverFolder: [] as number[] };
  try {
    for (let i = 0; i < rounds; i++) {
      const store = path.join(dir, `store-${i}`);
      const prefix = `round-${i}/`;
      const folder = await startCacheServer(['--dir', store, '--token', 'bench', '--quiet']);
      const s3env = { ...s3.env, NX_CACHE_S3_BUCKET: 'nx-cache', NX_CACHE_S3_PREFIX: prefix };
      const bucket = await startCacheServer(['--token', 'bench', '--quiet'], s3env);
      try {
        const client = (url: string) => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 'bench' });
        const cold = timed(client(folder.url));
        const target = new S3Store({ bucket: 'nx-cache', prefix, endpoint: s3.endpoint, region: 'us-east-1' });
        Object.assign(process.env, s3.env);
        const copied = await copyRecords(new DirectoryStore(store), target);
        target.client.destroy();
        const order = i % 2 === 0 ? (['folder', 'bucket'] as const) : (['bucket', 'folder'] as const);
        const t: Record<string, number> = {};
        for (const which of order) t[which] = timed(client(which === 'folder' ? folder.url : bucket.url));
        rows.cold.push(cold);
        rows.folder.push(t.folder);
        rows.bucket.push(t.bucket);
        rows.servedOfCold.push(t.folder / cold);
        rows.bucketOverFolder.push(t.bucket / t.folder);
        console.error(`round ${i + 1} (${order.join(' first, ')} second): clone A cold ${cold.toFixed(1)} s; ${copied} records; clone B folder ${t.folder.toFixed(1)} s, bucket ${t.bucket.toFixed(1)} s`);
      } finally {
        await Promise.all([folder.stop(), bucket.stop()]);
      }
    }
  } finally {
    await s3.stop();
    cleanup();
  }
  console.log(`| measurement (${rounds} rounds, 2 example environments) | median seconds | median of per-round ratios | target |`);
  console.log('| --- | --- | --- | --- |');
  console.log(`| clone A: cold nx run-many -t publish (fills the folder store) | ${median(rows.cold).toFixed(1)} | 1.00 | |`);
  console.log(`| clone B through the folder store | ${median(rows.folder).toFixed(1)} | ${(median(rows.servedOfCold) * 100).toFixed(0)} % of A | <= 10 % |`);
  console.log(`| clone B through the bucket store (S3 API, SeaweedFS) | ${median(rows.bucket).toFixed(1)} | ${median(rows.bucketOverFolder).toFixed(2)}x clone B through the folder store | <= 1.3x |`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
