import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import * as path from 'node:path';
import { testdir } from '../testing';
import { listenCacheServer } from '../testing/cache-server';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parseArgs, parseSize } = require('../cache-server/server.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { loadAccess, scope, sha256 } = require('../cache-server/access.js');

function client(url: string) {
  return (method: string, key: string, token?: string, body?: Buffer) =>
    fetch(`${url}${key.includes('/') ? key : `/v1/cache/${key}`}`, { method, body, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

/** The cache server's contract over real HTTP on 127.0.0.1, with the directory store. */
describe('tools/cache-server', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-cache-server-');
  let url = '';
  let close: () => Promise<void>;
  beforeAll(async () => ({ url, close } = await listenCacheServer({ dir, tokens: ['rw'], readTokens: ['ro'], maxSize: 3000 + 3 * 98 })));
  afterAll(async () => {
    await close();
    cleanup();
  });
  const call = (...args: Parameters<ReturnType<typeof client>>) => client(url)(...args);
  const record = (hash: string) => path.join(dir, 'v2', '_root', hash);

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
    const denied = await call('PUT', 'def456', 'ro', Buffer.from('x'));
    expect([denied.status, await denied.text()]).toEqual([403, 'this token may only read\n']);
    expect(existsSync(record('def456'))).toBe(false);
  });

  it('refuses hashes that are not plain names', async () => {
    expect((await fetch(`${url}/v1/cache/..%2F..%2Fetc%2Fpasswd`, { headers: { authorization: 'Bearer rw' } })).status).toBe(404);
    expect((await fetch(`${url}/ns/..%2Fx/v1/cache/abc123`, { headers: { authorization: 'Bearer rw' } })).status).toBe(403);
  });

  it('serves a damaged record as a miss with a warning, removes it, and accepts it again', async () => {
    expect((await call('PUT', 'dmg1', 'rw', Buffer.from('the real artifact'))).status).toBe(200);
    const bytes = readFileSync(record('dmg1'));
    writeFileSync(record('dmg1'), Buffer.concat([bytes.subarray(0, bytes.length - 3), Buffer.from('XYZ')])); // bit rot
    const warnings: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((line: string) => (warnings.push(String(line)), true)) as typeof process.stdout.write;
    try {
      expect((await call('GET', 'dmg1', 'rw')).status).toBe(404);
      writeFileSync(record('trunc1'), bytes.subarray(0, bytes.length - 5)); // a truncated copy of the share
      expect((await call('GET', 'trunc1', 'rw')).status).toBe(404);
      writeFileSync(record('nohead'), Buffer.from('an artifact copied in by hand'));
      expect((await call('GET', 'nohead', 'rw')).status).toBe(404);
    } finally {
      process.stdout.write = write;
    }
    expect(warnings.join('')).toMatch(/WARNING: record dmg1 is damaged \(its sha256 does not match what was stored\); answered as a miss and removed/);
    expect(warnings.join('')).toMatch(/WARNING: record trunc1 is damaged \(truncated or padded: 12 of 17 bytes\)/);
    expect(warnings.join('')).toMatch(/WARNING: record nohead is damaged \(its header is unreadable\)/);
    expect(existsSync(record('dmg1'))).toBe(false);
    expect((await call('PUT', 'dmg1', 'rw', Buffer.from('the real artifact'))).status).toBe(200);
    expect(await (await call('GET', 'dmg1', 'ro')).text()).toBe('the real artifact');
  });

  it('an upload cut short leaves no record and no spool file, and is the client\'s failure, not a server warning', async () => {
    const port = Number(new URL(url).port);
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((line: string) => (printed.push(String(line)), true)) as typeof process.stdout.write;
    try {
      await new Promise<void>((resolve) => {
        const req = request({ host: '127.0.0.1', port, method: 'PUT', path: '/v1/cache/cut1', headers: { authorization: 'Bearer rw', 'content-length': '100000' } });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(40_000, 1), () => setTimeout(() => (req.destroy(), resolve()), 100));
      });
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      process.stdout.write = write;
    }
    expect(printed.join('')).not.toContain('WARNING');
    expect((await call('GET', 'cut1', 'rw')).status).toBe(404);
    expect(existsSync(record('cut1'))).toBe(false);
    expect(readdirSync(path.join(dir, 'tmp'))).toEqual([]);
  });

  it('closes a client that stalls in its headers or its body (the spool file goes with it) and refuses connections past its limit', async () => {
    const { dir: limited, cleanup: done } = testdir({}, 'pydepot-cache-limits-');
    const printed: string[] = [];
    const server = await listenCacheServer({ dir: limited, tokens: ['rw'], headerTimeout: 0.5, bodyTimeout: 0.5, maxConnections: 2, quiet: false });
    const port = Number(new URL(server.url).port);
    const write = process.stdout.write;
    process.stdout.write = ((line: string) => (printed.push(String(line)), true)) as typeof process.stdout.write;
    /** A raw socket: sends `data`, then waits for the server to close it; resolves with what it answered and how long it took. */
    const raw = (data: string) =>
      new Promise<{ answer: string; ms: number }>((resolve) => {
        const started = Date.now();
        const socket = connect(port, '127.0.0.1', () => socket.write(data));
        let answer = '';
        socket.on('data', (d) => (answer += d));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve({ answer, ms: Date.now() - started }));
      });
    try {
      // Headers never finished: closed after the header timeout (well before Node's 60 s default).
      const headers = await raw('PUT /v1/cache/slow1 HTTP/1.1\r\nHost: x\r\n');
      expect(headers.ms).toBeLessThan(5_000);
      // A body that stops halfway: closed after the body timeout; no record, no spool file, a 400 in the log, no warning.
      const body = await raw('PUT /v1/cache/slow2 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer rw\r\nContent-Length: 1000\r\n\r\n' + 'a'.repeat(100));
      expect(body.ms).toBeLessThan(5_000);
      await new Promise((r) => setTimeout(r, 200));
      expect(existsSync(path.join(limited, 'v2', '_root', 'slow2'))).toBe(false);
      expect(readdirSync(path.join(limited, 'tmp'))).toEqual([]);
      // A client that drops right after its last byte: a stored record or the client's 400, never a server warning.
      for (let i = 0; i < 5; i++) {
        await new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () =>
            socket.write(`PUT /v1/cache/drop${i} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer rw\r\nContent-Length: 5000\r\n\r\n${'b'.repeat(5000)}`, () => (socket.destroy(), resolve())),
          );
          socket.on('error', () => resolve());
        });
      }
      await new Promise((r) => setTimeout(r, 300));
      expect(readdirSync(path.join(limited, 'tmp'))).toEqual([]);
      // Two connections held open: a third is refused at accept.
      const held = [connect(port, '127.0.0.1'), connect(port, '127.0.0.1')];
      await new Promise((r) => setTimeout(r, 100));
      const third = await raw('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      expect(third.answer).toBe('');
      held.forEach((s) => s.destroy());
      await new Promise((r) => setTimeout(r, 100));
      expect((await raw('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).answer).toContain('200 OK');
    } finally {
      process.stdout.write = write;
      await server.close();
      done();
    }
    const log = printed.join('');
    expect(log).toMatch(/PUT slow2 400 upload cut short: 100 of 1000 bytes/);
    expect(log).toMatch(/refused: 2 connections open/);
    expect(log).not.toContain('WARNING');
  });

  it('takes its limits from flags and the environment, and refuses nonsense', () => {
    const base = ['--dir', dir, '--token', 't'];
    expect(parseArgs(base, {})).toMatchObject({ headerTimeout: 10, bodyTimeout: 30, maxConnections: 64 });
    expect(parseArgs([...base, '--header-timeout', '2', '--body-timeout', '5', '--max-connections', '8'], {})).toMatchObject({ headerTimeout: 2, bodyTimeout: 5, maxConnections: 8 });
    expect(parseArgs(base, { NX_CACHE_MAX_CONNECTIONS: '16' })).toMatchObject({ maxConnections: 16 });
    expect(() => parseArgs([...base, '--max-connections', '0'], {})).toThrow('--max-connections (NX_CACHE_MAX_CONNECTIONS) must be a number of at least 1; got "0"');
    expect(() => parseArgs([...base, '--body-timeout', 'soon'], {})).toThrow(/--body-timeout .* got "soon"/);
  });

  it('evicts the least recently used records beyond its size limit', async () => {
    for (const h of ['e1', 'e2', 'e3']) {
      expect((await call('PUT', h, 'rw', Buffer.alloc(900, h))).status).toBe(200);
      await new Promise((r) => setTimeout(r, 20));
    }
    await call('GET', 'e1', 'rw'); // e1 is used again: e2 is now the oldest
    await new Promise((r) => setTimeout(r, 20));
    expect((await call('PUT', 'e4', 'rw', Buffer.alloc(900, 'e4'))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const left = readdirSync(path.join(dir, 'v2', '_root')).sort();
    expect(left).toContain('e1');
    expect(left).toContain('e4');
    expect(left).not.toContain('e2');
  });

  it('checks its command line', () => {
    expect(() => parseArgs([], {})).toThrow('--dir (or NX_CACHE_DIR: the folder that stores the artifacts) or --s3-bucket (or NX_CACHE_S3_BUCKET) is required');
    expect(() => parseArgs(['--dir', '/x'], {})).toThrow('--token (or NX_CACHE_TOKEN) or --config with a "tokens" list is required');
    expect(() => parseArgs(['--dir', '/x', '--s3-bucket', 'b', '--token', 't'], {})).toThrow('not both');
    expect(() => parseArgs(['--s3-bucket', 'b', '--s3-prefix', 'nx', '--token', 't'], {})).toThrow('--s3-prefix (NX_CACHE_S3_PREFIX) must end with "/"');
    expect(parseArgs(['--dir', '/x', '--token', 't', '--max-size', '2G'], {})).toMatchObject({ dir: '/x', tokens: ['t'], maxSize: 2 * 1024 ** 3 });
    expect(parseArgs(['--token', 't'], { NX_CACHE_S3_BUCKET: 'b', AWS_REGION: 'eu-west-1' })).toMatchObject({ s3Bucket: 'b', s3Region: 'eu-west-1', maxSize: undefined });
    expect(parseSize('500M')).toBe(500 * 1024 ** 2);
    expect(() => parseSize('lots')).toThrow(/--max-size must look like/);
  });
});

/** Trust levels: which token reads and writes which namespace. */
describe('tools/cache-server namespaces', () => {
  const TOKENS = { NX_CACHE_TOKEN_MAIN: 'main-secret', NX_CACHE_TOKEN_PR: 'pr-secret' };
  const { dir, cleanup } = testdir({
    'access.json': JSON.stringify({
      tokens: [
        { name: 'ci-main', tokenEnv: 'NX_CACHE_TOKEN_MAIN', write: 'main', read: ['main'] },
        { name: 'ci-pr', tokenEnv: 'NX_CACHE_TOKEN_PR', write: 'pr-*', read: ['pr-*', 'main'] },
        { name: 'developers', sha256: sha256('dev-secret'), read: ['main'] },
      ],
    }),
  }, 'pydepot-cache-ns-');
  let url = '';
  let close: () => Promise<void>;
  beforeAll(async () => ({ url, close } = await listenCacheServer({ dir: path.join(dir, 'store'), configFile: path.join(dir, 'access.json'), env: TOKENS })));
  afterAll(async () => {
    await close();
    cleanup();
  });
  const call = (...args: Parameters<ReturnType<typeof client>>) => client(url)(...args);

  it('a pull-request token cannot change what main reads, and reads main as a fallback', async () => {
    expect((await call('PUT', '/v1/cache/h1', 'main-secret', Buffer.from('main build'))).status).toBe(200); // main's home: "main"
    // Poisoning attempts: the PR token writes the same hash in its namespace, or names main's.
    expect((await call('PUT', '/ns/pr-7/v1/cache/h2', 'pr-secret', Buffer.from('poison'))).status).toBe(200);
    const intoMain = await call('PUT', '/ns/main/v1/cache/h1', 'pr-secret', Buffer.from('poison'));
    expect([intoMain.status, await intoMain.text()]).toEqual([403, 'token "ci-pr" may not write namespace "main"\n']);
    expect((await call('PUT', '/v1/cache/h3', 'pr-secret', Buffer.from('poison'))).status).toBe(403); // its home is no namespace it may write
    // Main never sees the PR's record; the PR sees main's through its fallback.
    expect((await call('GET', '/v1/cache/h2', 'main-secret')).status).toBe(404);
    expect((await call('GET', '/ns/main/v1/cache/h2', 'main-secret')).status).toBe(404);
    expect(await (await call('GET', '/ns/pr-7/v1/cache/h1', 'pr-secret')).text()).toBe('main build');
    expect(await (await call('GET', '/ns/pr-7/v1/cache/h2', 'pr-secret')).text()).toBe('poison');
    expect((await call('GET', '/ns/pr-7/v1/cache/h2', 'main-secret')).status).toBe(403);
    // Developers read main, write nothing.
    expect(await (await call('GET', '/v1/cache/h1', 'dev-secret')).text()).toBe('main build');
    expect((await call('PUT', '/v1/cache/h4', 'dev-secret', Buffer.from('x'))).status).toBe(403);
    expect(readdirSync(path.join(dir, 'store', 'v2')).sort()).toEqual(['main', 'pr-7']);
  });

  it('rejects a bad access config, naming the entry and the field', () => {
    const file = path.join(dir, 'bad.json');
    const bad = (entry: object, env: Record<string, string> = TOKENS) => {
      writeFileSync(file, JSON.stringify({ tokens: [entry] }));
      return () => loadAccess({ configFile: file, env });
    };
    expect(bad({ name: 'x', read: ['main'] })).toThrow(`${file}: tokens[0] ("x"): needs "tokenEnv" (the variable holding the token) or "sha256"`);
    expect(bad({ name: 'x', tokenEnv: 'UNSET_TOKEN', read: ['main'] })).toThrow('environment variable UNSET_TOKEN (its "tokenEnv") is not set');
    expect(bad({ name: 'x', tokenEnv: 'NX_CACHE_TOKEN_MAIN', read: ['Main!'] })).toThrow('"read" entries must be "" (the root), a namespace like "main" or a pattern like "pr-*"');
    expect(bad({ name: 'x', tokenEnv: 'NX_CACHE_TOKEN_MAIN', write: 'pr-*', read: ['main'] })).toThrow('"read" must include what it writes ("pr-*")');
    expect(bad({ name: 'x', tokenEnv: 'NX_CACHE_TOKEN_MAIN', read: ['main'], branch: 'main' })).toThrow('unknown field "branch"');
    writeFileSync(file, '{"tokens": [');
    expect(() => loadAccess({ configFile: file, env: TOKENS })).toThrow(`cannot read the access config ${file}`);
    expect(() => loadAccess({ tokens: ['same'], readTokens: ['same'] })).toThrow('the same token is given twice');
  });

  it('resolves the namespace a request works in', () => {
    const access = loadAccess({ configFile: path.join(dir, 'access.json'), env: TOKENS });
    const pr = access.authenticate('Bearer pr-secret');
    expect(scope(pr, 'pr-12')).toEqual({ namespace: 'pr-12', lookups: ['pr-12', 'main'], writable: true });
    expect(scope(pr, 'main')).toEqual({ namespace: 'main', lookups: ['main'], writable: false });
    expect(scope(pr, 'release')).toEqual({ error: 'token "ci-pr" may not read namespace "release"' });
    expect(access.authenticate('Bearer nope')).toBeUndefined();
    expect(access.authenticate(undefined)).toBeUndefined();
  });
});
