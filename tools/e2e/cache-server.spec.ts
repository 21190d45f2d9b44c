import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../testing';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createCacheServer, parseArgs, parseSize } = require('../cache-server/server.js');

/** The cache server's contract, over real HTTP on 127.0.0.1. */
describe('tools/cache-server', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-cache-server-');
  let url = '';
  let server: import('node:http').Server;
  beforeAll(async () => {
    server = createCacheServer({ dir, tokens: ['rw'], readTokens: ['ro'], maxSize: 3000, quiet: true });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    cleanup();
  });
  const call = (method: string, hash: string, token?: string, body?: Buffer) =>
    fetch(`${url}/v1/cache/${hash}`, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('stores, serves, and never overwrites a record', async () => {
    expect((await call('GET', 'abc123', 'rw')).status).toBe(404);
    expect((await call('PUT', 'abc123', 'rw', Buffer.from('artifact'))).status).toBe(200);
    const got = await call('GET', 'abc123', 'ro');
    expect([got.status, got.headers.get('content-type'), await got.text()]).toEqual([200, 'application/octet-stream', 'artifact']);
    expect((await call('PUT', 'abc123', 'rw', Buffer.from('other'))).status).toBe(409);
    expect(await (await call('GET', 'abc123', 'rw')).text()).toBe('artifact');
  });

  it('answers 401 in text/plain without a valid token, and 403 to a write with the read-only token', async () => {
    for (const token of [undefined, 'nope']) {
      const r = await call('GET', 'abc123', token);
      expect([r.status, r.headers.get('content-type')]).toEqual([401, 'text/plain']);
    }
    expect((await call('PUT', 'def456', 'ro', Buffer.from('x'))).status).toBe(403);
    expect(existsSync(path.join(dir, 'v1', 'def456'))).toBe(false);
  });

  it('refuses hashes that are not plain names', async () => {
    expect((await fetch(`${url}/v1/cache/..%2F..%2Fetc%2Fpasswd`, { headers: { authorization: 'Bearer rw' } })).status).toBe(404);
  });

  it('evicts the least recently used records beyond its size limit', async () => {
    for (const h of ['e1', 'e2', 'e3']) {
      expect((await call('PUT', h, 'rw', Buffer.alloc(900, h))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    await call('GET', 'e1', 'rw'); // e1 is used again: e2 is now the oldest
    expect((await call('PUT', 'e4', 'rw', Buffer.alloc(900, 'e4'))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const left = readdirSync(path.join(dir, 'v1')).sort();
    expect(left).toContain('e1');
    expect(left).toContain('e4');
    expect(left).not.toContain('e2');
  });

  it('checks its command line', () => {
    expect(() => parseArgs([], {})).toThrow('--dir (or NX_CACHE_DIR) is required');
    expect(() => parseArgs(['--dir', '/x'], {})).toThrow('--token (or NX_CACHE_TOKEN) is required');
    expect(parseArgs(['--dir', '/x', '--token', 't', '--max-size', '2G'], {})).toMatchObject({ dir: '/x', tokens: ['t'], maxSize: 2 * 1024 ** 3 });
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(() => parseSize('lots')).toThrow(/--max-size must look like/);
  });
});
