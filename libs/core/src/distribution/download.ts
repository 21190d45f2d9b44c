import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { PydepotError } from '../errors';
import { siblingTempPath } from '../fs/atomic';
import { pathExists, sha256File } from '../fs/tree';

/** Bump when the layout below changes, so an old cache is never misread. */
export const DOWNLOAD_CACHE_LAYOUT = 'downloads-v1';

/**
 * Make `source` (a path or a file://, http:// or https:// URL) available as a
 * verified local file. Paths are verified in place; URLs are downloaded once
 * into `<cacheDir>/downloads-v1/<sha256>/<name>` (content-addressed, so a
 * changed upstream file can never be mistaken for the pinned one).
 */
export async function fetchVerified(source: string, sha256: string, cacheDir: string): Promise<string> {
  const local = source.startsWith('file://') ? fileURLToPath(source) : /^https?:\/\//i.test(source) ? undefined : source;
  if (local !== undefined) {
    if (!(await pathExists(local))) {
      throw new PydepotError(`archive not found: ${local}`, { path: local, hint: 'check the "python.archive" path (relative to environment.json) or URL' });
    }
    await verifySha256(local, sha256, source);
    return local;
  }
  const name = decodeURIComponent(new URL(source).pathname.split('/').pop() || 'download');
  const target = path.join(cacheDir, DOWNLOAD_CACHE_LAYOUT, sha256, name);
  if (await pathExists(target)) return target; // only verified files are ever renamed into place
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = siblingTempPath(target);
  try {
    let response: Response;
    try {
      response = await fetch(source);
    } catch (error) {
      throw new PydepotError(`cannot download ${source}: ${(error as Error).cause ?? (error as Error).message}`, {
        hint: 'check the URL and the network (proxy settings come from HTTPS_PROXY / HTTP_PROXY)',
      });
    }
    if (!response.ok || !response.body) {
      throw new PydepotError(`cannot download ${source}: HTTP ${response.status} ${response.statusText}`, {
        hint: response.status === 404 ? 'the file is not at that URL: check the name and the release tag' : 'retry later or use a mirror',
      });
    }
    const hash = createHash('sha256');
    const body = Readable.fromWeb(response.body as any);
    body.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(body, createWriteStream(tmp));
    const actual = hash.digest('hex');
    if (actual !== sha256) throw hashMismatch(source, sha256, actual);
    await fs.rename(tmp, target);
    return target;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

export async function verifySha256(file: string, expected: string, shownAs = file): Promise<void> {
  const actual = await sha256File(file);
  if (actual !== expected) throw hashMismatch(shownAs, expected, actual);
}

function hashMismatch(source: string, expected: string, actual: string): PydepotError {
  return new PydepotError(`sha256 mismatch for ${source}: expected ${expected}, got ${actual}; nothing was extracted`, {
    path: source,
    hint: 'the file changed or the pin is wrong: check "python.sha256" against the publisher\'s checksum',
  });
}
