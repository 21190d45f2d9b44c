import { createHash } from 'node:crypto';
import { createWriteStream, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { rootCertificates } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { PydepotError } from '../errors';
import { siblingTempPath, writeFileAtomic } from '../fs/atomic';
import { pathExists, sha256File } from '../fs/tree';

/** Bump when the layout below changes, so an old cache is never misread. */
export const DOWNLOAD_CACHE_LAYOUT = 'downloads-v1';

export interface DownloadOptions {
  /** Never use the network: only the cache and local files (PYDEPOT_OFFLINE=1). */
  offline?: boolean;
  log?: (message: string) => void;
  /** Attempts for transient failures (network errors, HTTP 5xx/429, a body cut short). */
  attempts?: number;
  /** First backoff in ms; doubles each retry. */
  backoffMs?: number;
  env?: NodeJS.ProcessEnv;
}

export function isOffline(env: NodeJS.ProcessEnv = process.env): boolean {
  return /^(1|true|yes)$/i.test(env.PYDEPOT_OFFLINE ?? '');
}

/**
 * Make `source` (a path or a file://, http:// or https:// URL) available as a
 * verified local file. Paths are verified in place; URLs are downloaded once
 * into `<cacheDir>/downloads-v1/<sha256>/<name>` (content-addressed, so a
 * changed upstream file can never be mistaken for the pinned one). Only a
 * file whose hash matched is ever renamed into the cache.
 */
export async function fetchVerified(source: string, sha256: string, cacheDir: string, options: DownloadOptions = {}): Promise<string> {
  const local = localPath(source);
  if (local !== undefined) {
    if (!(await pathExists(local))) {
      throw new PydepotError(`archive not found: ${local}`, { path: local, hint: 'check the path (relative to environment.json), the URL or the mirror' });
    }
    await verifySha256(local, sha256, source);
    return local;
  }
  const name = decodeURIComponent(new URL(source).pathname.split('/').pop() || 'download');
  const target = path.join(cacheDir, DOWNLOAD_CACHE_LAYOUT, sha256, name);
  if (await pathExists(target)) return target;
  if (options.offline ?? isOffline(options.env)) {
    throw new PydepotError(`offline: ${name} (sha256 ${sha256}) is not in the download cache`, {
      path: target,
      hint: `download ${source} once with the network on, copy it to ${target}, or unset PYDEPOT_OFFLINE`,
    });
  }
  await fs.mkdir(path.dirname(target), { recursive: true });
  const tmp = siblingTempPath(target);
  try {
    await withRetries(source, options, async () => {
      const actual = await downloadTo(source, tmp, options);
      if (actual !== sha256) throw hashMismatch(source, sha256, actual);
    });
    await fs.rename(tmp, target);
    return target;
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * A small text file by URL (a release's SHA256SUMS), kept in the cache under
 * `cacheKey` once fetched: release assets never change under a tag.
 */
export async function fetchTextCached(source: string, cacheDir: string, cacheKey: string, options: DownloadOptions = {}): Promise<string> {
  const local = localPath(source);
  if (local !== undefined) {
    try {
      return readFileSync(local, 'utf8');
    } catch {
      throw new PydepotError(`not found: ${local}`, { path: local, hint: 'check the mirror folder: it must hold <release>/<file> like the official release URLs' });
    }
  }
  const target = path.join(cacheDir, DOWNLOAD_CACHE_LAYOUT, cacheKey);
  if (await pathExists(target)) return fs.readFile(target, 'utf8');
  if (options.offline ?? isOffline(options.env)) {
    throw new PydepotError(`offline: ${source} is not in the download cache`, {
      path: target,
      hint: `fetch it once with the network on (or copy it to ${target}), or unset PYDEPOT_OFFLINE`,
    });
  }
  const text = await withRetries(source, options, async () => {
    const response = await request(source, options);
    return response.text();
  });
  await writeFileAtomic(target, text);
  return text;
}

function localPath(source: string): string | undefined {
  if (source.startsWith('file://')) return fileURLToPath(source);
  return /^https?:\/\//i.test(source) ? undefined : source;
}

class TransientError extends PydepotError {}

async function withRetries<T>(source: string, options: DownloadOptions, attempt: () => Promise<T>): Promise<T> {
  const attempts = options.attempts ?? 4;
  let delay = options.backoffMs ?? 500;
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof TransientError) || i >= attempts) {
        if (error instanceof TransientError) {
          throw new PydepotError(`${error.message} (gave up after ${attempts} attempts)`, { hint: error.hint });
        }
        throw error;
      }
      options.log?.(`${error.message}; retrying in ${(delay / 1000).toFixed(1)} s (attempt ${i + 1} of ${attempts})`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay *= 2;
    }
  }
}

async function request(source: string, options: DownloadOptions): Promise<Response> {
  let response: Response;
  try {
    const proxied = await proxyFetch(options.env ?? process.env);
    response = proxied ? ((await proxied.fetch(source, { dispatcher: proxied.dispatcher })) as unknown as Response) : await fetch(source);
  } catch (error) {
    const cause = (error as Error).cause as { code?: string; message?: string } | undefined;
    throw new TransientError(`cannot download ${source}: ${cause?.code ?? cause?.message ?? (error as Error).message}`, {
      hint: 'check the URL and the network (proxies come from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, extra CAs from SSL_CERT_FILE or NODE_EXTRA_CA_CERTS), or use a mirror',
    });
  }
  if (response.ok && response.body) return response;
  const status = `HTTP ${response.status} ${response.statusText}`.trim();
  if (response.status >= 500 || response.status === 429) {
    throw new TransientError(`cannot download ${source}: ${status}`, { hint: 'the server or mirror is failing: retry later or use another mirror (PYDEPOT_PYTHON_MIRROR)' });
  }
  throw new PydepotError(`cannot download ${source}: ${status}`, {
    hint:
      response.status === 404
        ? 'nothing is at that URL: check the version, the release tag and the mirror (it must be laid out as <release>/<file>)'
        : response.status === 401 || response.status === 403
          ? 'the server refused the request: check credentials or mirror permissions'
          : 'check the URL',
  });
}

/** Stream `source` into `file`; returns the sha256 of what arrived. */
async function downloadTo(source: string, file: string, options: DownloadOptions): Promise<string> {
  const response = await request(source, options);
  const total = Number(response.headers.get('content-length') ?? 0) || undefined;
  const hash = createHash('sha256');
  const progress = new Progress(path.basename(new URL(source).pathname), total, options.env ?? process.env);
  let received = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      received += chunk.length;
      progress.update(received);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(response.body as any), meter, createWriteStream(file));
  } catch (error) {
    throw new TransientError(`download of ${source} was cut off after ${received} bytes${total ? ` of ${total}` : ''}: ${(error as Error).message}`, {
      hint: 'the connection dropped: retry, or use a mirror',
    });
  } finally {
    progress.done();
  }
  if (total !== undefined && received !== total) {
    throw new TransientError(`download of ${source} was cut off after ${received} bytes of ${total}`, { hint: 'the connection dropped: retry, or use a mirror' });
  }
  return hash.digest('hex');
}

/**
 * Bytes, rate and ETA on an interactive terminal, redrawn at most 10 times a
 * second; nothing in CI or when stderr is not a terminal (Nx task output).
 */
class Progress {
  private readonly enabled: boolean;
  private readonly start = Date.now();
  private last = 0;

  constructor(
    private readonly name: string,
    private readonly total: number | undefined,
    env: NodeJS.ProcessEnv,
  ) {
    this.enabled = Boolean(process.stderr.isTTY) && !env.CI && env.PYDEPOT_PROGRESS !== '0';
  }

  update(received: number): void {
    const now = Date.now();
    if (!this.enabled || now - this.last < 100) return;
    this.last = now;
    const seconds = Math.max((now - this.start) / 1000, 0.001);
    const rate = received / seconds;
    const eta = this.total && rate > 0 ? ` ETA ${Math.ceil((this.total - received) / rate)} s` : '';
    const size = this.total ? `${mib(received)}/${mib(this.total)} MiB` : `${mib(received)} MiB`;
    process.stderr.write(`\r  ${this.name}: ${size}  ${mib(rate)} MiB/s${eta}\x1b[K`);
  }

  done(): void {
    if (this.enabled && this.last) process.stderr.write('\r\x1b[K');
  }
}

function mib(bytes: number): string {
  return (bytes / 1048576).toFixed(1);
}

type ProxyFetch = { fetch: typeof import('undici').fetch; dispatcher: import('undici').Dispatcher };
let proxyCache: { key: string; value: ProxyFetch } | undefined;

/**
 * Node's fetch ignores HTTPS_PROXY and SSL_CERT_FILE; undici's
 * EnvHttpProxyAgent honours HTTP(S)_PROXY and NO_PROXY the way curl and pip
 * do. Without any of those settings Node's own fetch is used.
 */
async function proxyFetch(env: NodeJS.ProcessEnv): Promise<ProxyFetch | undefined> {
  const proxy = env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy;
  const caFile = env.SSL_CERT_FILE || env.REQUESTS_CA_BUNDLE;
  if (!proxy && !caFile) return undefined;
  const key = `${proxy}|${env.NO_PROXY ?? env.no_proxy ?? ''}|${caFile}`;
  if (proxyCache?.key === key) return proxyCache.value;
  const undici = await import('undici');
  let connect: { ca: string[] } | undefined;
  if (caFile) {
    try {
      connect = { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] };
    } catch (error) {
      throw new PydepotError(`cannot read the CA bundle ${caFile}: ${(error as Error).message}`, { path: caFile, hint: 'fix SSL_CERT_FILE / REQUESTS_CA_BUNDLE' });
    }
  }
  const dispatcher = proxy ? new undici.EnvHttpProxyAgent({ connect }) : new undici.Agent({ connect });
  proxyCache = { key, value: { fetch: undici.fetch, dispatcher } };
  return proxyCache.value;
}

export async function verifySha256(file: string, expected: string, shownAs = file): Promise<void> {
  const actual = await sha256File(file);
  if (actual !== expected) throw hashMismatch(shownAs, expected, actual);
}

function hashMismatch(source: string, expected: string, actual: string): PydepotError {
  return new PydepotError(`sha256 mismatch for ${source}: expected ${expected}, got ${actual}; nothing was extracted`, {
    path: source,
    hint: "the file changed or the pin is wrong: check the pinned sha256 against the publisher's checksum (SHA256SUMS)",
  });
}
