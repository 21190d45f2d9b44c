import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import * as path from 'node:path';
import { hashTree } from '../../libs/core/src';
import { testdir } from '../testing';
import { listenCacheServer, RunningCacheServer, startCacheServer } from '../testing/cache-server';
import { SeaweedFs, startSeaweedFs } from '../testing/seaweedfs';
import { git, makeWorkspace, nxAsync, nxWith, REPO, taskLines } from './helpers';

jest.setTimeout(1_200_000);

/*
 * The remote cache at scale: a real S3-compatible store (SeaweedFS on
 * 127.0.0.1), two stateless cache-server instances on one bucket, and
 * workspaces standing for CI agents and developers with tokens of different
 * trust levels (docs/REMOTE-CACHE.md).
 */

const BUCKET = 'nx-cache';
const PREFIX = 'pydepot/';
const TOKENS = { NX_CACHE_TOKEN_MAIN: 'main-secret', NX_CACHE_TOKEN_PR: 'pr-secret', NX_CACHE_TOKEN_DEV: 'dev-secret' };
const ENVIRONMENTS = ['maxscript-imaging', 'cli-tools'];
const RUNTIMES = ['python-3.11', 'python-3.12'];
const BUILD_TARGETS = ['venv', 'install'];
// Publish is cached too (replayed only for the depot state it found: published-state.ts): one record per environment.
const CACHED_TASKS = ENVIRONMENTS.length * (BUILD_TARGETS.length + 1) + RUNTIMES.length;

describe('the remote cache on S3-compatible storage (SeaweedFS, two server instances)', () => {
  const { dir, cleanup } = testdir({
    'access.json': JSON.stringify({
      tokens: [
        { name: 'ci-main', tokenEnv: 'NX_CACHE_TOKEN_MAIN', write: 'main', read: ['main'] },
        { name: 'ci-pull-requests', tokenEnv: 'NX_CACHE_TOKEN_PR', write: 'pr-*', read: ['pr-*', 'main'] },
        { name: 'developers', tokenEnv: 'NX_CACHE_TOKEN_DEV', read: ['main'] },
      ],
    }),
  }, 'pydepot-s3-');
  const serverEnv = () => ({ ...s3.env, ...TOKENS, NX_CACHE_S3_BUCKET: BUCKET, NX_CACHE_S3_PREFIX: PREFIX, NX_CACHE_CONFIG: path.join(dir, 'access.json'), TMPDIR: dir });
  const workspaces: Array<{ ws: string; cleanup(): void }> = [];
  const workspace = () => {
    const w = makeWorkspace();
    workspaces.push(w);
    return w.ws;
  };
  let s3: SeaweedFs;
  let one: RunningCacheServer;
  let two: RunningCacheServer;
  let admin: import('@aws-sdk/client-s3').S3Client;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const sdk = require('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3');
  const a = { ws: '' };

  beforeAll(async () => {
    s3 = await startSeaweedFs(path.join(dir, 'seaweedfs'), [BUCKET]);
    [one, two] = await Promise.all([startCacheServer([], serverEnv()), startCacheServer([], serverEnv())]);
    admin = new sdk.S3Client({ endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: s3.env.AWS_ACCESS_KEY_ID, secretAccessKey: s3.env.AWS_SECRET_ACCESS_KEY } });
  });
  afterAll(async () => {
    admin?.destroy();
    await Promise.all([one?.stop(), two?.stop()]);
    await s3?.stop();
    for (const w of workspaces) w.cleanup();
    cleanup();
  });

  const keys = async (under = PREFIX) => {
    const out: string[] = [];
    let token: string | undefined;
    do {
      const page = await admin.send(new sdk.ListObjectsV2Command({ Bucket: BUCKET, Prefix: under, ContinuationToken: token }));
      out.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
    } while (token);
    return out.sort();
  };
  const remote = (server: RunningCacheServer, token: string, namespace?: string) => ({
    NX_SELF_HOSTED_REMOTE_CACHE_SERVER: namespace ? `${server.url}/ns/${namespace}` : server.url,
    NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: token,
  });
  const sha = (bytes: ArrayBuffer | Buffer) => createHash('sha256').update(Buffer.from(bytes as ArrayBuffer)).digest('hex');
  const get = async (server: RunningCacheServer, key: string, token = 'main-secret') => {
    const r = await fetch(`${server.url}${key}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: Buffer.from(await r.arrayBuffer()) };
  };
  /** A PUT whose body is sent in pieces; `after` runs once `sent` bytes went out, before the rest. */
  const slowPut = (server: RunningCacheServer, key: string, size: number, sent: number, after: () => Promise<void>) =>
    new Promise<void>((resolve) => {
      const url = new URL(server.url);
      const req = request({ host: url.hostname, port: Number(url.port), method: 'PUT', path: key, headers: { authorization: 'Bearer main-secret', 'content-length': String(size) } });
      req.on('error', () => resolve());
      req.on('response', (res) => (res.resume(), resolve()));
      req.write(Buffer.alloc(sent, 7), () => {
        after().then(() => req.end(Buffer.alloc(size - sent, 7)), () => resolve());
      });
    });

  it('clone A builds everything through instance one and fills the bucket', async () => {
    a.ws = workspace();
    const run = nxWith(remote(one, 'main-secret'), a.ws, 'run-many', '-t', 'publish');
    expect(run.status).toBe(0);
    // Main's token works in its namespace: pydepot/main/<hash>, one per build task, per publish and per runtime tree.
    const stored = await keys();
    expect(stored.every((k) => k.startsWith(`${PREFIX}main/`))).toBe(true);
    expect(stored.filter((k) => k.includes('/pydepot-runtime-'))).toHaveLength(RUNTIMES.length);
    expect(stored).toHaveLength(CACHED_TASKS + RUNTIMES.length);
  });

  it('clone B gets every build target through instance two and publishes identical trees; both instances serve every record alike', async () => {
    const b = workspace();
    const run = nxWith(remote(two, 'main-secret'), b, 'run-many', '-t', 'publish');
    expect(run.status).toBe(0);
    const tasks = taskLines(run.out);
    for (const env of ENVIRONMENTS) for (const t of BUILD_TARGETS) expect([`${env}:${t}`, tasks[`${env}:${t}`]]).toEqual([`${env}:${t}`, '[remote cache]']);
    for (const rt of RUNTIMES) expect(tasks[`${rt}:runtime`]).toBe('[remote cache]');
    expect(run.out.match(/runtime cpython-[\w.-]+ fetched from/g)).toHaveLength(RUNTIMES.length);
    expect(run.out).not.toMatch(/building it|unusable/);
    for (const env of ENVIRONMENTS) {
      const current = (ws: string) => JSON.parse(readFileSync(path.join(ws, 'dist/depot', env, 'current.json'), 'utf8')).version;
      expect(current(b)).toBe(current(a.ws));
      const tree = (ws: string) => hashTree(path.join(ws, 'dist/depot', env, current(ws)));
      expect(await tree(b)).toBe(await tree(a.ws));
    }
    for (const key of await keys()) {
      const hash = key.slice(`${PREFIX}main/`.length);
      const [x, y] = await Promise.all([get(one, `/v1/cache/${hash}`), get(two, `/v1/cache/${hash}`)]);
      expect([hash, x.status, y.status, sha(x.body)]).toEqual([hash, 200, 200, sha(y.body)]);
    }
  });

  it('kill -9 of an instance in the middle of an upload: the other serves, and no partial entry is ever visible', async () => {
    const size = 64 * 2 ** 20;
    // While the client is still sending (the server is spooling) ...
    const killed = one;
    await slowPut(killed, '/v1/cache/cut-while-receiving', size, size / 2, async () => {
      await new Promise((r) => setTimeout(r, 200));
      await killed.stop('SIGKILL');
    });
    // ... and while the instance is writing the object to the bucket.
    one = await startCacheServer([], serverEnv());
    const killedAgain = one;
    const putting = slowPut(killedAgain, '/v1/cache/cut-while-storing', size, size, async () => undefined);
    await killedAgain.waitFor(/PUT main\/cut-while-storing storing/);
    await killedAgain.stop('SIGKILL');
    await putting;
    for (const probe of [0, 2000]) {
      await new Promise((r) => setTimeout(r, probe));
      expect((await keys()).filter((k) => k.includes('cut-while'))).toEqual([]);
      for (const hash of ['cut-while-receiving', 'cut-while-storing']) expect((await get(two, `/v1/cache/${hash}`)).status).toBe(404);
    }
    // The other instance keeps serving, and takes the upload again; a restarted
    // instance clears the spool folders of killed ones.
    expect((await get(two, `/v1/cache/${(await keys())[0].split('/').pop()}`)).status).toBe(200);
    const retry = await fetch(`${two.url}/v1/cache/cut-while-storing`, { method: 'PUT', body: Buffer.alloc(size, 7), headers: { authorization: 'Bearer main-secret' } });
    expect(retry.status).toBe(200);
    one = await startCacheServer([], serverEnv());
    const served = await get(one, '/v1/cache/cut-while-storing');
    expect([served.status, sha(served.body)]).toEqual([200, sha(Buffer.alloc(size, 7))]);
    expect(readdirSync(dir).filter((n) => n.startsWith('pydepot-cache-spool-')).sort()).toEqual([`pydepot-cache-spool-${one.child.pid}`, `pydepot-cache-spool-${two.child.pid}`].sort());
  });

  it('a damaged object is a miss with a warning, never a bad restore', async () => {
    const good = Buffer.from('a good artifact '.repeat(1000));
    expect((await fetch(`${one.url}/v1/cache/damaged`, { method: 'PUT', body: good, headers: { authorization: 'Bearer main-secret' } })).status).toBe(200);
    const head = await admin.send(new sdk.HeadObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}main/damaged` }));
    // Something outside the cache server rewrites the object (a bad replication, a hand edit), keeping its metadata.
    await admin.send(new sdk.PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}main/damaged`, Body: good.subarray(0, 5000), Metadata: head.Metadata }));
    expect((await get(two, '/v1/cache/damaged')).status).toBe(404);
    await two.waitFor(/WARNING: record main\/damaged is damaged \(truncated or padded: 5000 of 16000 bytes\); answered as a miss and removed/);
    expect(await keys(`${PREFIX}main/damaged`)).toEqual([]);
    // A record another server of the protocol wrote (no checksum metadata) is served, and logged as unverified.
    await admin.send(new sdk.PutObjectCommand({ Bucket: BUCKET, Key: `${PREFIX}main/foreign`, Body: good }));
    expect(sha((await get(two, '/v1/cache/foreign')).body)).toBe(sha(good));
    await two.waitFor(/GET main\/foreign: no checksum \(written by another server\), served unverified/);
  });

  describe('trust levels', () => {
    // The same change on three machines: a developer, a pull request, then main after the merge.
    const change = (ws: string) => writeFileSync(path.join(ws, 'environments/cli-tools/NOTES.md'), 'Release notes of the pull request.\n');

    it('a read-only token builds what it lacks and writes nothing', async () => {
      const before = await keys();
      const dev = workspace();
      change(dev);
      const run = nxWith(remote(one, 'dev-secret'), dev, 'run', 'cli-tools:publish');
      expect(run.status).toBe(0);
      expect(taskLines(run.out)['cli-tools:venv']).toBe('[remote cache]');
      expect(taskLines(run.out)['cli-tools:install']).toBe('');
      expect(await keys()).toEqual(before);
      await one.waitFor(/PUT main\/\d+ 403 \(developers\)/);
    });

    it('a pull-request build shares within its namespace and cannot change what main restores', async () => {
      const pr = workspace();
      change(pr);
      const run = nxWith(remote(two, 'pr-secret', 'pr-1'), pr, 'run', 'cli-tools:publish');
      expect(run.status).toBe(0);
      // It reads main's records (the runtime, the venv) and writes only its own namespace.
      expect(taskLines(run.out)['cli-tools:venv']).toBe('[remote cache]');
      expect(taskLines(run.out)['cli-tools:install']).toBe('');
      expect(await keys(`${PREFIX}pr-1/`)).toHaveLength(2); // its install and its publish
      // Main, after the merge, computes the same hash and does not restore the pull request's record.
      const main = workspace();
      change(main);
      const merged = nxWith(remote(one, 'main-secret'), main, 'run', 'cli-tools:publish');
      expect(merged.status).toBe(0);
      expect(taskLines(merged.out)['cli-tools:install']).toBe('');
      // Its install's hash, recorded again in main's own namespace (its publish's differs: another depot's state).
      const prHashes = (await keys(`${PREFIX}pr-1/`)).map((k) => k.split('/').pop());
      const mainHashes = new Set((await keys(`${PREFIX}main/`)).map((k) => k.split('/').pop()));
      expect(prHashes.filter((h) => mainHashes.has(h))).toHaveLength(1);
    });
  });

  it('fans the affected environments out to agents that build their share and publish into one depot', async () => {
    // A commit that touches both environments, as on a busy main branch.
    for (const env of ENVIRONMENTS) writeFileSync(path.join(a.ws, `environments/${env}/CHANGELOG.md`), `${env}: a change\n`);
    git(a.ws, 'add', '-A');
    git(a.ws, 'commit', '-qm', 'change both environments');
    const show = nxWith({}, a.ws, 'show', 'projects', '--affected', '--with-target=publish', '--json', '--base=HEAD~1');
    expect(show.status).toBe(0);
    const projects = show.out.trim().split('\n').find((l) => l.startsWith('['))!;
    expect(JSON.parse(projects).sort()).toEqual([...ENVIRONMENTS].sort());
    const shards = (...args: string[]) => execFileSync(process.execPath, [path.join(REPO, 'tools/ci/shards.js'), ...args], { input: projects }).toString().trim();
    expect(JSON.parse(shards('--total', '4'))).toEqual(['cli-tools', 'maxscript-imaging']);
    // Two agents (fresh checkouts with empty local caches), each on its own instance, one shared depot.
    const depot = path.join(dir, 'shared depot');
    const agents = [1, 2].map((index) => {
      const checkout = path.join(dir, `agent-${index}`);
      git(dir, 'clone', '-q', a.ws, checkout);
      symlinkSync(path.join(REPO, 'node_modules'), path.join(checkout, 'node_modules'));
      return { checkout, share: shards('--total', '2', '--index', String(index)), server: index === 1 ? one : two };
    });
    const runs = await Promise.all(agents.map((agent) => nxAsync({ ...remote(agent.server, 'main-secret'), PYDEPOT_DEPOT: depot }, agent.checkout, 'run-many', '-t', 'publish', `--projects=${agent.share}`)));
    for (const run of runs) expect([run.status, run.out.slice(-2000)]).toEqual([0, expect.anything()]);
    for (const [i, agent] of agents.entries()) {
      const tasks = taskLines(runs[i].out);
      expect(tasks[`${agent.share}:venv`]).toBe('[remote cache]'); // only the changed file rebuilds
      expect(existsSync(path.join(depot, agent.share, 'current.json'))).toBe(true);
    }
    expect(readdirSync(path.join(depot, '_runtimes')).filter((n) => n.startsWith('cpython-'))).toHaveLength(RUNTIMES.length);
  });

  it('a read refreshes a record\'s last use, and --max-size evicts the least recently used', async () => {
    // In-process, with the refresh and eviction intervals at zero; S3's LastModified has one-second resolution.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { S3Store } = require('../cache-server/stores.js');
    Object.assign(process.env, s3.env);
    const store = new S3Store({ bucket: BUCKET, prefix: 'evict/', endpoint: s3.endpoint, touchAfterMs: 0, spoolDir: path.join(dir, 'spool-evict') });
    const server = await listenCacheServer({ store, tokens: ['t'], maxSize: 3000, evictEveryMs: 0 });
    const url = `${server.url}/v1/cache`;
    const second = () => new Promise((r) => setTimeout(r, 1100));
    try {
      for (const h of ['e1', 'e2', 'e3']) {
        expect((await fetch(`${url}/${h}`, { method: 'PUT', body: Buffer.alloc(900, h), headers: { authorization: 'Bearer t' } })).status).toBe(200);
        await second();
      }
      expect((await fetch(`${url}/e1`, { headers: { authorization: 'Bearer t' } })).status).toBe(200); // e2 is now the least recently used
      await second();
      expect((await fetch(`${url}/e4`, { method: 'PUT', body: Buffer.alloc(900, 'e4'), headers: { authorization: 'Bearer t' } })).status).toBe(200);
      await second();
      expect(await keys('evict/')).toEqual(['evict/e1', 'evict/e3', 'evict/e4']);
    } finally {
      await server.close();
      store.client.destroy();
    }
  });

  it('refuses to start on a bucket it cannot use, saying what to check', async () => {
    await expect(startCacheServer([], { ...serverEnv(), AWS_SECRET_ACCESS_KEY: 'wrong' })).rejects.toThrow(/pydepot cache server: cannot use s3:\/\/nx-cache\/pydepot\/ at http:\/\/127\.0\.0\.1:\d+: access denied: check the credentials/);
    await expect(startCacheServer([], { ...serverEnv(), NX_CACHE_S3_BUCKET: 'no-such-bucket' })).rejects.toThrow(/the bucket does not exist: create it \(or check NX_CACHE_S3_BUCKET\)/);
  });
});
