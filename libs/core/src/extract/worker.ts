import { Worker } from 'node:worker_threads';
import { PydepotError } from '../errors';
import { extractArchive, ExtractLimits, EXTRACT_LIMITS } from './extract';

/*
 * extractArchive on a worker thread: inflating, parsing and writing a
 * runtime-sized archive is JavaScript work, and two runtimes extracted at
 * once in one process (a fresh clone's publish batch) would share its one
 * thread. The same extractor, the same rules; only the thread differs.
 */

/** The require hook that loaded these TypeScript sources (bin/register.js), for the worker to load them too. */
const hook = (globalThis as { __pydepotRequireHook?: string }).__pydepotRequireHook;

const BOOT = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.hook) require(workerData.hook);
const { extractArchive } = require(workerData.module);
const hashes = workerData.hashes ? new Map() : undefined;
extractArchive(workerData.archive, workerData.dest, workerData.limits, { hashes }).then(
  () => parentPort.postMessage({ ok: true, hashes: hashes ? [...hashes] : undefined }),
  (error) => parentPort.postMessage({ ok: false, error: { message: error.message, hint: error.hint, path: error.path, pydepot: error.name === 'PydepotError' } }),
);
`;

export async function extractArchiveInWorker(archive: string, dest: string, limits: ExtractLimits = EXTRACT_LIMITS, options: { hashes?: Map<string, string> } = {}): Promise<void> {
  const module = require.resolve('./extract');
  // Sources that only a hook this thread lacks could load (a test runner's transform): extract here.
  if (module.endsWith('.ts') && !hook) return extractArchive(archive, dest, limits, options);
  const reply = await new Promise<{ ok: boolean; hashes?: Array<[string, string]>; error?: { message: string; hint?: string; path?: string; pydepot: boolean } }>((resolve, reject) => {
    const worker = new Worker(BOOT, { eval: true, workerData: { hook, module, archive, dest, limits, hashes: options.hashes !== undefined } });
    worker.once('message', (message) => {
      resolve(message);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the extraction thread stopped (exit code ${code})`)));
  });
  if (!reply.ok) {
    const e = reply.error!;
    throw e.pydepot ? new PydepotError(e.message, { hint: e.hint, path: e.path }) : new Error(e.message);
  }
  for (const [file, sha256] of reply.hashes ?? []) options.hashes?.set(file, sha256);
}
