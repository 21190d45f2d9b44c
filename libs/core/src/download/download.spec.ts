import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { serveDirectory, testdir } from '../../../../tools/testing';
import { fetchTextCached, fetchVerified } from './download';

/** The real downloader against a real HTTP server on 127.0.0.1 that misbehaves on request. */
describe('fetchVerified over HTTP', () => {
  const payload = randomBytes(200_000);
  const sha256 = createHash('sha256').update(payload).digest('hex');
  const { dir, cleanup } = testdir({ 'www/rel/file.tar.gz': payload, 'www/rel/SHA256SUMS': `${sha256}  file.tar.gz\n` });
  let server: Awaited<ReturnType<typeof serveDirectory>>;
  beforeAll(async () => (server = await serveDirectory(path.join(dir, 'www'))));
  afterAll(async () => {
    await server.close();
    cleanup();
  });
  let n = 0;
  const freshCache = () => path.join(dir, `cache-${++n}`);
  const fast = { backoffMs: 5, log: () => undefined };
  const cached = (cache: string) => (existsSync(path.join(cache, 'downloads-v1')) ? readdirSync(path.join(cache, 'downloads-v1'), { recursive: true }).map(String) : []);

  it('downloads once into the content-addressed cache, then serves it from there', async () => {
    const cache = freshCache();
    const before = server.requests.get('/rel/file.tar.gz') ?? 0;
    const file = await fetchVerified(`${server.url}/rel/file.tar.gz`, sha256, cache, fast);
    expect(file).toBe(path.join(cache, 'downloads-v1', sha256, 'file.tar.gz'));
    expect(await fetchVerified(`${server.url}/rel/file.tar.gz`, sha256, cache, fast)).toBe(file);
    expect(server.requests.get('/rel/file.tar.gz')).toBe(before + 1);
  });

  it('retries a 500 and a hang-up, then succeeds, saying so in the log', async () => {
    const cache = freshCache();
    server.faults.set('/rel/file.tar.gz', ['500', 'hang-up']);
    const log: string[] = [];
    await fetchVerified(`${server.url}/rel/file.tar.gz`, sha256, cache, { backoffMs: 5, log: (m) => log.push(m) });
    expect(log).toHaveLength(2);
    expect(log[0]).toMatch(/HTTP 500.*retrying in 0\.0 s \(attempt 2 of 4\)/);
  });

  it('retries a truncated body and gives up with a clear error when it stays truncated; nothing lands in the cache', async () => {
    const cache = freshCache();
    server.faults.set('/rel/file.tar.gz', ['truncate', 'truncate', 'truncate']);
    await expect(fetchVerified(`${server.url}/rel/file.tar.gz`, sha256, cache, { ...fast, attempts: 3 })).rejects.toThrow(
      /was cut off after \d+ bytes.*\(gave up after 3 attempts\)/,
    );
    expect(cached(cache).filter((f) => f.endsWith('.tar.gz'))).toEqual([]);
  });

  it('does not retry a 404, and says what to check', async () => {
    const cache = freshCache();
    const error = await fetchVerified(`${server.url}/rel/missing.tar.gz`, sha256, cache, fast).catch((e) => e);
    expect(error.message).toMatch(/cannot download .*missing\.tar\.gz: HTTP 404/);
    expect(error.hint).toMatch(/release tag and the mirror/);
    expect(server.requests.get('/rel/missing.tar.gz')).toBe(1);
  });

  it('refuses a file whose hash does not match, keeping nothing', async () => {
    const cache = freshCache();
    await expect(fetchVerified(`${server.url}/rel/file.tar.gz`, 'a'.repeat(64), cache, fast)).rejects.toThrow(/sha256 mismatch .*expected a{64}, got [0-9a-f]{64}/);
    expect(cached(cache).filter((f) => f.endsWith('.tar.gz'))).toEqual([]);
  });

  it('reports a mirror that is down after its retries', async () => {
    const down = await serveDirectory(dir);
    const url = `${down.url}/rel/file.tar.gz`;
    await down.close();
    await expect(fetchVerified(url, sha256, freshCache(), { ...fast, attempts: 2 })).rejects.toThrow(/cannot download .*ECONNREFUSED \(gave up after 2 attempts\)/);
  });

  it('offline: uses the cache, and names what is missing instead of downloading', async () => {
    const cache = freshCache();
    const count = () => server.requests.get('/rel/file.tar.gz') ?? 0;
    const before = count();
    const error = await fetchVerified(`${server.url}/rel/file.tar.gz`, sha256, cache, { ...fast, offline: true }).catch((e) => e);
    expect(error.message).toBe(`offline: file.tar.gz (sha256 ${sha256}) is not in the download cache`);
    expect(error.hint).toContain(path.join(cache, 'downloads-v1', sha256, 'file.tar.gz'));
    expect(count()).toBe(before);
    await fetchVerified(`${server.url}/rel/file.tar.gz`, sha256, cache, fast);
    await fetchVerified(`${server.url}/rel/file.tar.gz`, sha256, cache, { ...fast, offline: true });
    expect(count()).toBe(before + 1);
  });

  it('caches small release files by key and reads file:// ones in place', async () => {
    const cache = freshCache();
    const text = await fetchTextCached(`${server.url}/rel/SHA256SUMS`, cache, 'releases/rel/SHA256SUMS', fast);
    expect(text).toContain(sha256);
    const before = server.requests.get('/rel/SHA256SUMS');
    expect(await fetchTextCached(`${server.url}/rel/SHA256SUMS`, cache, 'releases/rel/SHA256SUMS', { ...fast, offline: true })).toBe(text);
    expect(server.requests.get('/rel/SHA256SUMS')).toBe(before);
    expect(await fetchTextCached(`file://${dir}/www/rel/SHA256SUMS`, cache, 'x', { offline: true })).toBe(text);
  });
});
