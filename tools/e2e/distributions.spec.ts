import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { auditTree, parseEnvironmentSpec, readManifest, unpackDistribution } from '../../libs/core/src';
import { pyenvPython, serveDirectory, testdir } from '../testing';
import { exec, quiet } from './helpers';

jest.setTimeout(300_000);

const RELEASE = '20250604';
const TRIPLE = 'x86_64-unknown-linux-gnu';

/**
 * python-build-standalone by version, through the real resolver, downloader,
 * verifier and extractor, against a mirror laid out like the real releases
 * (`<release>/<file>` + `SHA256SUMS`), made from this machine's CPythons and
 * served over file:// and over HTTP on 127.0.0.1 (GitHub is out of reach).
 */
describe('python-build-standalone from a mirror', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-pbs-');
  const mirror = path.join(dir, 'mirror');
  const releaseDir = path.join(mirror, RELEASE);
  mkdirSync(releaseDir, { recursive: true });
  const assets: Record<string, { file: string; sha256: string; prefix: string }> = {};
  for (const minor of ['3.11', '3.12']) {
    const prefix = realpathSync(path.dirname(path.dirname(pyenvPython(minor))));
    const version = path.basename(prefix);
    const file = `cpython-${version}+${RELEASE}-${TRIPLE}-install_only.tar.gz`;
    // The install_only layout: one top folder, python/.
    execFileSync('tar', [
      '-I', 'gzip -1', '-cf', path.join(releaseDir, file),
      '--exclude=test', '--exclude=site-packages/*', '--exclude=__pycache__', '--exclude=*.a',
      '-C', path.dirname(prefix), '--transform', `s,^${version},python,`, version,
    ]);
    assets[minor] = { file, sha256: createHash('sha256').update(readFileSync(path.join(releaseDir, file))).digest('hex'), prefix };
  }
  writeFileSync(
    path.join(releaseDir, 'SHA256SUMS'),
    [
      ...Object.values(assets).map((a) => `${a.sha256}  ${a.file}`),
      // Other platforms and flavours in the same release are ignored.
      `${'0'.repeat(64)}  cpython-3.12.99+${RELEASE}-aarch64-unknown-linux-gnu-install_only.tar.gz`,
      `${'1'.repeat(64)}  cpython-3.12.98+${RELEASE}-${TRIPLE}-pgo+lto-full.tar.zst`,
      '',
    ].join('\n'),
  );
  let server: Awaited<ReturnType<typeof serveDirectory>>;
  beforeAll(async () => (server = await serveDirectory(mirror)));
  afterAll(async () => {
    await server.close();
    cleanup();
  });

  const specFor = (python: unknown) => parseEnvironmentSpec(JSON.stringify({ python }), path.join(dir, 'env/environment.json'), 'pbs');
  let n = 0;
  const unpack = (python: unknown, cacheDir: string) => {
    const outputPath = path.join(dir, `out-${++n}`);
    return { outputPath, done: unpackDistribution({ spec: specFor(python), outputPath, cacheDir, ...quiet }) };
  };

  it('resolves "3.12" from a file:// mirror, verifies it against SHA256SUMS, and the result runs relocated', async () => {
    const { outputPath, done } = unpack({ version: '3.12', source: 'standalone', release: RELEASE, mirror: `file://${mirror}` }, path.join(dir, 'cache-file'));
    const manifest = await done;
    expect(manifest.python).toEqual({
      implementation: 'cpython',
      version: path.basename(assets['3.12'].prefix),
      source: { kind: 'standalone', release: RELEASE, archive: assets['3.12'].file, sha256: assets['3.12'].sha256 },
    });
    expect(exec(path.join(outputPath, 'bin/python'), ['-c', 'import ssl, sqlite3, sys; print(sys.prefix)']).trim()).toBe(outputPath);
    // Neither the mirror nor the CPython it was packed from is named anywhere in the tree.
    expect(await auditTree(outputPath, [mirror, assets['3.12'].prefix])).toEqual([]);
    expect((await readManifest(outputPath)).python.source.kind).toBe('standalone');
  });

  it('downloads over HTTP once; a second build hits the download cache; offline then works from the cache alone', async () => {
    const cache = path.join(dir, 'cache-http');
    const archivePath = `/${RELEASE}/${assets['3.11'].file}`;
    const python = { version: '3.11', source: 'standalone', release: RELEASE, mirror: server.url };
    await unpack(python, cache).done;
    expect(server.requests.get(archivePath)).toBe(1);
    expect(server.requests.get(`/${RELEASE}/SHA256SUMS`)).toBe(1);
    const second = unpack(python, cache);
    await second.done;
    expect(server.requests.get(archivePath)).toBe(1);
    expect(server.requests.get(`/${RELEASE}/SHA256SUMS`)).toBe(1);
    process.env.PYDEPOT_OFFLINE = '1';
    try {
      const third = unpack(python, cache);
      await third.done;
      expect(exec(path.join(third.outputPath, 'bin/python3'), ['-c', 'import sys; print(sys.version_info[:2])']).trim()).toBe('(3, 11)');
    } finally {
      delete process.env.PYDEPOT_OFFLINE;
    }
    expect(server.requests.get(archivePath)).toBe(1);
  });

  it('offline with an empty cache names what is missing and extracts nothing', async () => {
    process.env.PYDEPOT_OFFLINE = '1';
    try {
      const { outputPath, done } = unpack({ version: '3.12', source: 'standalone', release: RELEASE, mirror: server.url }, path.join(dir, 'cache-empty'));
      const error = await done.catch((e) => e);
      expect(error.message).toBe(`offline: ${server.url}/${RELEASE}/SHA256SUMS is not in the download cache`);
      expect(existsSync(outputPath)).toBe(false);
    } finally {
      delete process.env.PYDEPOT_OFFLINE;
    }
  });

  it('retries a mirror that fails once (HTTP 500), then succeeds', async () => {
    server.faults.set(`/${RELEASE}/${assets['3.12'].file}`, ['500']);
    const before = server.requests.get(`/${RELEASE}/${assets['3.12'].file}`) ?? 0;
    const { outputPath, done } = unpack({ version: '3.12.1', source: 'standalone', release: RELEASE, mirror: server.url, sha256: assets['3.12'].sha256 }, path.join(dir, 'cache-retry'));
    await done;
    expect(server.requests.get(`/${RELEASE}/${assets['3.12'].file}`)).toBe(before + 2);
    expect(existsSync(path.join(outputPath, 'bin/python3.12'))).toBe(true);
  });

  it('refuses a pin that disagrees with SHA256SUMS, and a file that disagrees with its pin', async () => {
    const wrongPin = unpack({ version: '3.12', source: 'standalone', release: RELEASE, mirror: server.url, sha256: 'c'.repeat(64) }, path.join(dir, 'cache-pin'));
    await expect(wrongPin.done).rejects.toThrow(`the pinned sha256 ${'c'.repeat(64)} is not the one release ${RELEASE} lists for ${assets['3.12'].file}`);
    // An exact version with a pin skips SHA256SUMS: the download itself is checked.
    const exact = unpack({ version: path.basename(assets['3.12'].prefix), source: 'standalone', release: RELEASE, mirror: server.url, sha256: 'c'.repeat(64) }, path.join(dir, 'cache-pin'));
    await expect(exact.done).rejects.toThrow(/sha256 mismatch .*nothing was extracted/);
    expect(existsSync(wrongPin.outputPath) || existsSync(exact.outputPath)).toBe(false);
  });

  it('lists the versions a release has when the one asked for is not there, and says 404 for a missing file', async () => {
    const missing = unpack({ version: '3.10', source: 'standalone', release: RELEASE, mirror: server.url }, path.join(dir, 'cache-404'));
    await expect(missing.done).rejects.toThrow(
      `python-build-standalone release ${RELEASE} has no CPython 3.10 for ${TRIPLE}; it has ${path.basename(assets['3.11'].prefix)}, ${path.basename(assets['3.12'].prefix)}`,
    );
    const noRelease = unpack({ version: '3.12', source: 'standalone', release: '20990101', mirror: server.url }, path.join(dir, 'cache-404'));
    await expect(noRelease.done).rejects.toThrow(/cannot download .*\/20990101\/SHA256SUMS: HTTP 404/);
  });
});
