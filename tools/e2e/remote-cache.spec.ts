import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { hashTree } from '../../libs/core/src';
import { testdir } from '../testing';
import { freePorts, RunningCacheServer, startCacheServer } from '../testing/cache-server';
import { makeWorkspace, nxWith, taskLines } from './helpers';

jest.setTimeout(900_000);

const TOKEN = 'pydepot-test-token';
const BUILD_TARGETS = ['venv', 'install'];
const ENVIRONMENTS = ['maxscript-imaging', 'cli-tools'];
const RUNTIMES = ['python-3.11', 'python-3.12'];
const CACHED_TASKS = ENVIRONMENTS.length * BUILD_TARGETS.length + RUNTIMES.length;

/**
 * Two clones with separate local caches share one cache server: clone A
 * builds everything, clone B (fresh) gets every environment build target
 * from the remote cache, runs no Python build step, and publishes
 * byte-identical environments.
 */
describe('a shared remote cache (tools/cache-server, Nx self-hosted protocol)', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-remote-');
  const store = path.join(dir, 'store');
  const a = makeWorkspace();
  const b = makeWorkspace();
  let server: RunningCacheServer;
  beforeAll(async () => (server = await startCacheServer(['--dir', store, '--token', TOKEN])));
  afterAll(async () => {
    await server?.stop();
    a.cleanup();
    b.cleanup();
    cleanup();
  });
  const remote = () => ({ NX_SELF_HOSTED_REMOTE_CACHE_SERVER: server.url, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: TOKEN });

  it('clone A builds everything and fills the remote cache', () => {
    const run = nxWith(remote(), a.ws, 'run-many', '-t', 'publish');
    expect(run.status).toBe(0);
    // One entry per build task and per publish (replayed only for the depot state it found: published-state.ts),
    // plus each runtime's tree once (a blob beside them, fetched only by a machine that lacks it).
    const stored = readdirSync(path.join(store, 'v2', '_root'));
    expect(stored.filter((n) => n.startsWith('pydepot-runtime-'))).toHaveLength(RUNTIMES.length);
    expect(stored).toHaveLength(CACHED_TASKS + ENVIRONMENTS.length + RUNTIMES.length);
  });

  it('clone B gets every build target from the remote cache, runs no Python step, and publishes identical environments', async () => {
    const run = nxWith(remote(), b.ws, 'run-many', '-t', 'publish');
    expect(run.status).toBe(0);
    const tasks = taskLines(run.out);
    for (const env of ENVIRONMENTS) for (const t of BUILD_TARGETS) expect([`${env}:${t}`, tasks[`${env}:${t}`]]).toEqual([`${env}:${t}`, '[remote cache]']);
    for (const rt of RUNTIMES) expect(tasks[`${rt}:runtime`]).toBe('[remote cache]');
    expect(run.out).toContain(`Nx read the output from the cache instead of running the command for ${CACHED_TASKS} out of`);
    // Each interpreter arrives once, checked file by file; nothing is rebuilt here (Nx replays the
    // cached tasks' logs, so clone A's build lines appear, but no task of B's ran a build).
    expect(run.out.match(/runtime cpython-[\w.-]+ fetched from/g)).toHaveLength(RUNTIMES.length);
    expect(run.out).not.toMatch(/building it|unusable/);
    // Written once, where publish needs them: straight into the depot, not first into the build's store.
    expect(readdirSync(path.join(b.ws, 'dist/depot/_runtimes')).filter((n) => n.startsWith('cpython-'))).toHaveLength(RUNTIMES.length);
    expect(readdirSync(path.join(b.ws, 'dist/pydepot/_runtimes')).filter((n) => n.startsWith('cpython-'))).toEqual([]);
    expect(readdirSync(path.join(b.ws, 'dist/depot/_runtimes')).filter((n) => n.includes('.fetch-') || n.includes('.tmp-'))).toEqual([]);
    for (const env of ENVIRONMENTS) {
      const current = (ws: string) => JSON.parse(readFileSync(path.join(ws, 'dist/depot', env, 'current.json'), 'utf8')).version;
      expect(current(b.ws)).toBe(current(a.ws));
      const tree = (ws: string) => hashTree(path.join(ws, 'dist/depot', env, current(ws)));
      expect(await tree(b.ws)).toBe(await tree(a.ws));
    }
  });

  it('a wrong token fails with a clear message', () => {
    const c = makeWorkspace();
    try {
      const run = nxWith({ ...remote(), NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: 'wrong' }, c.ws, 'run', 'python-3.11:runtime');
      expect(run.status).not.toBe(0);
      expect(run.out).toContain('Unauthorized: missing or invalid bearer token: set NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN');
    } finally {
      c.cleanup();
    }
  });

  it('a server that is down: a visible warning and a local build; with PYDEPOT_REMOTE_CACHE_REQUIRED=1, a failure', async () => {
    const d = makeWorkspace();
    try {
      // A port nothing listens on.
      const [port] = await freePorts(1);
      const down = { NX_SELF_HOSTED_REMOTE_CACHE_SERVER: `http://127.0.0.1:${port}`, NX_SELF_HOSTED_REMOTE_CACHE_ACCESS_TOKEN: TOKEN };
      const strict = nxWith({ ...down, PYDEPOT_REMOTE_CACHE_REQUIRED: '1' }, d.ws, 'run', 'python-3.11:runtime');
      expect(strict.status).not.toBe(0);
      expect(strict.out).toMatch(/Failed to send request/);
      const lenient = nxWith(down, d.ws, 'run', 'python-3.11:runtime');
      expect(lenient.status).toBe(0);
      expect(lenient.out).toContain(`pydepot  WARNING: the remote cache http://127.0.0.1:${port} is unreachable (ECONNREFUSED); this run uses the local cache only`);
      expect(lenient.out).toMatch(/pydepot runtime python-3\.11: CPython 3\.11\.\d+ \(installed\) is runtime cpython-3\.11/);
    } finally {
      d.cleanup();
    }
  });
});
