import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { makeWheel, serveIndex, testdir } from '../testing';
import { exec, grepText, makeWorkspace, nxAsync } from './helpers';

jest.setTimeout(900_000);

/**
 * A private index on 127.0.0.1 that requires basic auth, used through real Nx
 * runs with real pip and uv: credentials from environment variables (pip) and
 * from a netrc file (uv). The password must never appear in any output, in
 * the workspace (lock file included), the depot, Nx's cache or pydepot's cache.
 */
describe('private index with credentials', () => {
  const { ws, cleanup } = makeWorkspace();
  const scratch = testdir({}, 'pydepot-creds-');
  const password = 'Sup3r-s3cret-idx-pw';
  const wrong = 'Wr0ng-guess-pw-77';
  const wheels = path.join(scratch.dir, 'wheels');
  const netrc = path.join(scratch.dir, 'netrc');
  const cache = path.join(scratch.dir, 'cache');
  let index: Awaited<ReturnType<typeof serveIndex>>;

  const env = (extra: NodeJS.ProcessEnv = {}) => ({ PYDEPOT_CACHE_DIR: cache, STUDIO_INDEX_USER: 'ci', STUDIO_INDEX_PASSWORD: password, NETRC: netrc, ...extra });
  const writeEnv = (name: string, spec: object) => {
    mkdirSync(path.join(ws, 'environments', name), { recursive: true });
    writeFileSync(path.join(ws, 'environments', name, 'environment.json'), JSON.stringify(spec, null, 2));
  };

  beforeAll(async () => {
    mkdirSync(wheels);
    makeWheel(wheels, 'studio-hello', '1.0.0', { script: 'studio-hello' });
    index = await serveIndex(wheels, { user: 'ci', password });
    writeFileSync(netrc, `machine 127.0.0.1\n  login ci\n  password ${password}\n`);
    const port = new URL(index.url).port;
    writeEnv('private-pip', { python: '3.12', installer: 'pip', packages: ['studio-hello==1.0.0'], index: { url: `http://\${STUDIO_INDEX_USER}:\${STUDIO_INDEX_PASSWORD}@127.0.0.1:${port}/simple` } });
    writeEnv('private-uv', { python: '3.12', installer: 'uv', packages: ['studio-hello==1.0.0'], index: { url: `http://127.0.0.1:${port}/simple` } });
  });
  afterAll(async () => {
    await index?.close();
    cleanup();
    scratch.cleanup();
  });

  const leaks = () => [ws, cache].flatMap((root) => grepText(root, password));

  it('installs with credentials from environment variables (pip) and netrc (uv), printing neither', async () => {
    const run = await nxAsync(env(), ws, 'run-many', '-t', 'publish', '-p', 'private-pip', 'private-uv');
    expect(run.out).not.toContain(password);
    expect(run.status).toBe(0);
    expect(index.seen.authorized).toBeGreaterThan(0);
    for (const name of ['private-pip', 'private-uv']) {
      expect(exec(path.join(ws, 'dist/depot', name, 'current/bin/studio-hello'))).toBe('studio-hello 1.0.0\n');
    }
    const lock = await nxAsync(env(), ws, 'run', 'private-pip:lock');
    expect(lock.out).not.toContain(password);
    expect(lock.status).toBe(0);
    const text = readFileSync(path.join(ws, 'environments/private-pip/requirements.lock'), 'utf8');
    expect(text).toMatch(/studio-hello==1\.0\.0 \\\n\s+--hash=sha256:[0-9a-f]{64}/);
    // Workspace (spec, lock, build stages), depot, Nx's cache and terminal logs, pip's and uv's caches.
    expect(leaks()).toEqual([]);
  });

  it('a refused password fails with a hint about credentials, and is masked', async () => {
    const refusedBefore = index.seen.refused;
    const run = await nxAsync(env({ STUDIO_INDEX_PASSWORD: wrong }), ws, 'run', 'private-pip:install', '--skip-nx-cache', '--exclude-task-dependencies');
    expect(run.status).not.toBe(0);
    expect(index.seen.refused).toBeGreaterThan(refusedBefore);
    expect(run.out).toContain('the index refused the credentials');
    expect(run.out).not.toContain(wrong);
    expect(run.out).not.toContain(password);
    expect(grepText(ws, wrong)).toEqual([]);
    // The published version is untouched.
    expect(exec(path.join(ws, 'dist/depot/private-pip/current/bin/studio-hello'))).toBe('studio-hello 1.0.0\n');
  });

  it('a placeholder that is not set names the field, the file and the variable', async () => {
    const run = await nxAsync(env({ STUDIO_INDEX_PASSWORD: '' }), ws, 'run', 'private-pip:install', '--skip-nx-cache', '--exclude-task-dependencies');
    expect(run.status).not.toBe(0);
    expect(run.out).toContain('"index.url" in ');
    expect(run.out).toContain('environments/private-pip/environment.json uses ${STUDIO_INDEX_PASSWORD}, which is not set');
    expect(leaks()).toEqual([]);
  });

  it('wheelhouse: downloads the locked artifacts once, then builds air-gapped with the index gone', async () => {
    const download = await nxAsync(env(), ws, 'run', 'private-pip:wheelhouse');
    expect(download.status).toBe(0);
    expect(download.out).not.toContain(password);
    expect(readdirSync(path.join(ws, 'dist/wheelhouse/private-pip'))).toEqual(['studio_hello-1.0.0-py3-none-any.whl']);
    await index.close();
    // No index, no credentials: only the wheelhouse, still with hashes required.
    const offline = await nxAsync(
      { PYDEPOT_CACHE_DIR: path.join(scratch.dir, 'empty-cache'), PYDEPOT_WHEELHOUSE: path.join(ws, 'dist/wheelhouse') },
      ws,
      'run',
      'private-pip:install',
      '--skip-nx-cache',
      '--exclude-task-dependencies',
    );
    expect(offline.out).toContain('PYDEPOT_WHEELHOUSE is set');
    expect(offline.status).toBe(0);
    const built = JSON.parse(readFileSync(path.join(ws, 'dist/pydepot/private-pip/install/pydepot.json'), 'utf8'));
    const current = JSON.parse(readFileSync(path.join(ws, 'dist/depot/private-pip/current/pydepot.json'), 'utf8'));
    expect(built.contentHash).toBe(current.contentHash);
    expect(leaks()).toEqual([]);
  });
});
