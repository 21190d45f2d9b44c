import { promises as fs, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { EnvironmentManifest } from '../environment/manifest';
import { DirectoryPublisher } from './directory';
import { resolveDepot } from './depot';

const manifest = (version: string): EnvironmentManifest => ({
  schemaVersion: 1,
  name: 'tool',
  version,
  platform: 'linux-x64',
  python: { implementation: 'cpython', version: '3.12.1', source: { kind: 'installed' } },
  entryPoints: { python: 'bin/python', scriptsDir: 'bin', sitePackages: 'lib/python3.12/site-packages' },
  packages: [],
});

describe('DirectoryPublisher', () => {
  it('publishes a version atomically, moves current, and writes nothing for identical content', async () => {
    const { dir, cleanup } = testdir({ 'build/bin/python': 'py', 'build/pydepot.json': '{}' });
    try {
      const depot = path.join(dir, 'depot');
      const publisher = new DirectoryPublisher(depot);
      const first = await publisher.publish({ buildPath: path.join(dir, 'build'), manifest: manifest('v1'), log: () => undefined });
      expect(first).toEqual({ version: 'v1', location: path.join(depot, 'tool', 'v1'), copied: true, currentChanged: true });
      expect(readlinkSync(path.join(depot, 'tool', 'current'))).toBe('v1');
      expect(JSON.parse(readFileSync(path.join(depot, 'tool', 'current.json'), 'utf8')).version).toBe('v1');
      const before = readdirSync(path.join(depot, 'tool')).map((n) => [n, statSync(path.join(depot, 'tool', n)).mtimeMs]);
      const again = await publisher.publish({ buildPath: path.join(dir, 'build'), manifest: manifest('v1'), log: () => undefined });
      expect(again).toMatchObject({ copied: false, currentChanged: false });
      expect(readdirSync(path.join(depot, 'tool')).map((n) => [n, statSync(path.join(depot, 'tool', n)).mtimeMs])).toEqual(before);
      const second = await publisher.publish({ buildPath: path.join(dir, 'build'), manifest: manifest('v2'), log: () => undefined });
      expect(second).toMatchObject({ copied: true, currentChanged: true });
      expect(readlinkSync(path.join(depot, 'tool', 'current'))).toBe('v2');
      expect(readdirSync(path.join(depot, 'tool')).sort()).toEqual(['current', 'current.json', 'v1', 'v2']);
    } finally {
      cleanup();
    }
  });

  it('leaves the depot as it was when the copy fails', async () => {
    const { dir, cleanup } = testdir({ 'build/bin/python': 'py', 'build/lib/data': 'x', 'build/pydepot.json': '{}' });
    try {
      const depot = path.join(dir, 'depot');
      const publisher = new DirectoryPublisher(depot);
      await publisher.publish({ buildPath: path.join(dir, 'build'), manifest: manifest('v1'), log: () => undefined });
      // The depot fills up on the second file of the copy.
      const failing = { buildPath: path.join(dir, 'build'), manifest: manifest('v2'), log: () => undefined };
      const original = fs.copyFile;
      let calls = 0;
      (fs as any).copyFile = async (...args: Parameters<typeof fs.copyFile>) => {
        if (++calls === 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        return original(...args);
      };
      try {
        await expect(publisher.publish(failing)).rejects.toThrow(/publishing tool to .*v2 failed: ENOSPC.*left as it was/);
      } finally {
        (fs as any).copyFile = original;
      }
      expect(readdirSync(path.join(depot, 'tool')).sort()).toEqual(['current', 'current.json', 'v1']);
      expect(readlinkSync(path.join(depot, 'tool', 'current'))).toBe('v1');
    } finally {
      cleanup();
    }
  });

  it('resolves the depot: spec, then PYDEPOT_DEPOT, then the workspace default', () => {
    expect(resolveDepot({ workspaceRoot: '/ws', env: {} })).toBe('/ws/dist/depot');
    expect(resolveDepot({ workspaceRoot: '/ws', workspaceDefault: 'out/depot', env: {} })).toBe('/ws/out/depot');
    expect(resolveDepot({ workspaceRoot: '/ws', workspaceDefault: 'out/depot', env: { PYDEPOT_DEPOT: '/mnt/share' } })).toBe('/mnt/share');
    expect(resolveDepot({ workspaceRoot: '/ws', specDepot: '/mnt/special', env: { PYDEPOT_DEPOT: '/mnt/share' } })).toBe('/mnt/special');
  });
});
