import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { EXTRACT_LIMITS } from '../extract/extract';
import { extractArchiveInWorker } from '../extract/worker';
import { siblingTempPath } from '../fs/atomic';
import { hashIndex, indexTree } from '../fs/tree';
import { METADATA_FILES } from '../environment/manifest';

/*
 * Runtime trees travel between machines beside the build cache, not in it:
 * the cached task output is the runtime's small manifest, and the tree is a
 * blob in the same HTTP store (GET/PUT /v1/cache/<key>, the protocol of
 * Nx's self-hosted remote cache), keyed by the runtime's id and fetched only
 * by a machine whose store lacks it. A fresh clone served from the remote
 * cache therefore downloads each interpreter once instead of rebuilding it,
 * and a fully cached run never touches it.
 */

export interface BlobStore {
  /** Base URL of the store (the remote cache server). */
  url: string;
  token?: string;
}

/** The blob key of a runtime (the server accepts [A-Za-z0-9_-]). */
export function runtimeBlobKey(id: string): string {
  return `pydepot-runtime-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

function blobUrl(store: BlobStore, id: string): string {
  return `${store.url.replace(/\/+$/, '')}/v1/cache/${runtimeBlobKey(id)}`;
}

function headers(store: BlobStore): Record<string, string> {
  return store.token ? { authorization: `Bearer ${store.token}` } : {};
}

/** Upload a runtime tree (tar.gz) unless the store has it; a failure is a warning: the build already succeeded. */
export async function shareRuntime(root: string, id: string, store: BlobStore, log: (m: string) => void): Promise<void> {
  const archive = `${siblingTempPath(root)}.tar.gz`;
  try {
    const head = await fetch(blobUrl(store, id), { method: 'GET', headers: headers(store), signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
    await head?.body?.cancel();
    if (head?.status === 200) return;
    // tar loads on first use: most processes that import this module never upload.
    const tar = require('tar') as typeof import('tar');
    await tar.c({ gzip: { level: 1 }, cwd: root, file: archive, portable: true }, ['.']);
    const size = (await fs.stat(archive)).size;
    const response = await fetch(blobUrl(store, id), {
      method: 'PUT',
      headers: { ...headers(store), 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: Readable.toWeb(createReadStream(archive)) as unknown as ReadableStream,
      duplex: 'half',
      signal: AbortSignal.timeout(10 * 60_000),
    } as RequestInit);
    await response.body?.cancel();
    if (response.ok) log(`runtime ${id} shared through ${store.url} (${(size / 2 ** 20).toFixed(1)} MiB)`);
    else if (response.status !== 409) log(`warning: cannot share runtime ${id} through ${store.url}: HTTP ${response.status} (other machines will build it themselves)`);
  } catch (error) {
    log(`warning: cannot share runtime ${id} through ${store.url}: ${(error as Error).message} (other machines will build it themselves)`);
  } finally {
    await fs.rm(archive, { force: true });
  }
}

/**
 * Download a runtime tree into `root` (which must not exist), checked against
 * its content hash: every file is hashed again, so a truncated or corrupted
 * blob is a miss with a warning, never a bad runtime. True when it is in place.
 */
export async function fetchRuntime(root: string, id: string, contentHash: string, store: BlobStore, log: (m: string) => void): Promise<boolean> {
  const archive = `${siblingTempPath(root)}.tar.gz`;
  const tmp = siblingTempPath(root);
  try {
    const started = Date.now();
    const response = await fetch(blobUrl(store, id), { headers: headers(store), signal: AbortSignal.timeout(10 * 60_000) });
    if (response.status === 404) {
      await response.body?.cancel();
      return false;
    }
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}`);
    await pipeline(Readable.fromWeb(response.body as never), createWriteStream(archive));
    // Each file hashed as it is written: the check below reads nothing twice. On a worker thread of its own:
    // a fresh clone's publish batch fetches its runtimes side by side, and one thread would serialise them.
    const hashes = new Map<string, string>();
    await extractArchiveInWorker(archive, tmp, EXTRACT_LIMITS, { hashes });
    const entries = await indexTree(tmp, (rel) => !METADATA_FILES.has(rel), undefined, hashes);
    const got = hashIndex(entries);
    if (got !== contentHash) throw new Error(`its content hash is ${got.slice(0, 16)}, the manifest says ${contentHash.slice(0, 16)}`);
    await fs.rm(root, { recursive: true, force: true });
    await fs.rename(tmp, root);
    log(`runtime ${id} fetched from ${store.url} (${((await fs.stat(archive)).size / 2 ** 20).toFixed(1)} MiB, ${entries.length} entries checked, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return true;
  } catch (error) {
    log(`warning: runtime ${id} from ${store.url} is unusable (${(error as Error).message}): building it here instead`);
    return false;
  } finally {
    await fs.rm(archive, { force: true });
    await fs.rm(tmp, { recursive: true, force: true });
  }
}
