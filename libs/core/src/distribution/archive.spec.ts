import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { python, testdir } from '../../../../tools/testing';
import { ArchiveSource } from './archive';

const PREFIX = {
  'python/bin/python3.12': '#!/bin/sh\n',
  'python/lib/python3.12/os.py': '',
  'python/lib/python3.12/test/test_x.py': '',
  'python/lib/python3.12/site-packages/README.txt': 'x',
  'python/include/python3.12/patchlevel.h': '#define PY_VERSION "3.12.7"\n',
};

describe('ArchiveSource', () => {
  const { dir, cleanup } = testdir(Object.fromEntries(Object.entries(PREFIX).map(([k, v]) => [`tree/${k}`, v])));
  afterAll(cleanup);
  const archive = path.join(dir, 'cpython-3.12.7+20241016-x86_64-unknown-linux-gnu-install_only.tar.gz');
  python(`import sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t: t.add(sys.argv[2] + '/python', 'python')`, [archive, path.join(dir, 'tree')]);
  const sha256 = createHash('sha256').update(readFileSync(archive)).digest('hex');
  const context = { cacheDir: path.join(dir, 'cache'), includeStdlibTests: false, log: () => undefined };

  it('unpacks an install_only layout into the prefix, pruning the stdlib tests', async () => {
    const dest = path.join(dir, 'out-ok');
    const result = await new ArchiveSource(archive, sha256).unpack(dest, context);
    // A local path is a build-machine path: the manifest keeps only the file name.
    expect(result).toEqual({ version: '3.12.7', os: 'posix', scrubBinaries: false, source: { kind: 'archive', archive: path.basename(archive), sha256 } });
    expect(existsSync(path.join(dest, 'bin/python3.12'))).toBe(true);
    expect(existsSync(path.join(dest, 'lib/python3.12/test'))).toBe(false);
    expect(new ArchiveSource(archive, sha256).identity()).toContain(sha256);
  });

  it('extracts nothing when the sha256 does not match', async () => {
    const dest = path.join(dir, 'out-bad');
    await expect(new ArchiveSource(archive, '0'.repeat(64)).unpack(dest, context)).rejects.toThrow(
      new RegExp(`sha256 mismatch for .*install_only\\.tar\\.gz: expected 0{64}, got ${sha256}; nothing was extracted`),
    );
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(dir).filter((n) => n.includes('out-bad'))).toEqual([]);
  });

  it('downloads a file:// URL once into the content-addressed cache', async () => {
    const url = `file://${archive}`;
    const dest = path.join(dir, 'out-url');
    await new ArchiveSource(url, sha256).unpack(dest, context);
    expect(existsSync(path.join(dest, 'include/python3.12/patchlevel.h'))).toBe(true);
  });
});
