import { writeFileSync, promises as fs, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fakeManifest, testdir, writeFiles } from '../../../../tools/testing';
import { DirectoryPublisher, leftoverOwner } from './directory';
import { currentStateKey } from './current-state';
import { LOCK_FILE } from './lock';
import { resolveDepot } from './depot';
import { readReleases } from './history';

const manifest = fakeManifest;
const quiet = { log: () => undefined };
const BIG = 'x'.repeat(100_000);

describe('DirectoryPublisher', () => {
  it('publishes atomically, moves current, writes nothing for identical content, and reuses unchanged files', async () => {
    const { dir, cleanup } = testdir({ 'b1/bin/python': 'py', 'b1/lib/big.bin': BIG, 'b1/lib/pkg/a.py': 'a = 1', 'b1/pydepot.json': JSON.stringify(manifest('v1', [['a', '1.0']])) });
    try {
      const depot = path.join(dir, 'depot');
      const envDir = path.join(depot, 'tool');
      const publisher = new DirectoryPublisher(depot);
      const first = await publisher.publish({ buildPath: path.join(dir, 'b1'), manifest: manifest('v1', [['a', '1.0']]), ...quiet });
      expect(first).toMatchObject({ version: 'v1', location: path.join(envDir, 'v1'), copied: true, currentChanged: true, filesLinked: 0, filesCopied: 4 });
      expect(readlinkSync(path.join(envDir, 'current'))).toBe('v1');
      expect(JSON.parse(readFileSync(path.join(envDir, 'current.json'), 'utf8')).version).toBe('v1');

      const listing = () => readdirSync(envDir).map((n) => [n, statSync(path.join(envDir, n)).mtimeMs]);
      const before = listing();
      const again = await publisher.publish({ buildPath: path.join(dir, 'b1'), manifest: manifest('v1', [['a', '1.0']]), ...quiet });
      expect(again).toMatchObject({ copied: false, currentChanged: false, bytesWritten: 0 });
      expect(listing()).toEqual(before);

      // One small file changes: only it (and the metadata) is written; the rest are hard links to v1.
      writeFiles(dir, { 'b2/bin/python': 'py', 'b2/lib/big.bin': BIG, 'b2/lib/pkg/a.py': 'a = 2', 'b2/lib/pkg/b.py': 'b = 1', 'b2/pydepot.json': JSON.stringify(manifest('v2', [['a', '1.1'], ['b', '1.0']])) });
      const second = await publisher.publish({ buildPath: path.join(dir, 'b2'), manifest: manifest('v2', [['a', '1.1'], ['b', '1.0']]), ...quiet });
      expect(second).toMatchObject({ copied: true, currentChanged: true, filesLinked: 2, filesCopied: 3, bytesWritten: 'a = 2'.length + 'b = 1'.length + JSON.stringify(manifest('v2', [['a', '1.1'], ['b', '1.0']])).length });
      expect(statSync(path.join(envDir, 'v2/lib/big.bin')).ino).toBe(statSync(path.join(envDir, 'v1/lib/big.bin')).ino);
      expect(readFileSync(path.join(envDir, 'v1/lib/pkg/a.py'), 'utf8')).toBe('a = 1');
      expect(readlinkSync(path.join(envDir, 'current'))).toBe('v2');
      expect(readdirSync(envDir).sort()).toEqual(['CHANGELOG.md', 'current', 'current.json', 'releases.json', 'v1', 'v2']);
      const changelog = readFileSync(path.join(envDir, 'CHANGELOG.md'), 'utf8');
      expect(changelog).toContain('- added b 1.0');
      expect(changelog).toContain('- a 1.0 → 1.1');
    } finally {
      cleanup();
    }
  });

  it('keys the depot state the up-to-date answer reads, and a state left behind never comes back', async () => {
    const { dir, cleanup } = testdir({ 'b1/bin/python': 'py', 'b1/pydepot.json': JSON.stringify(manifest('v1')), 'b2/bin/python': 'py2', 'b2/pydepot.json': JSON.stringify(manifest('v2')) });
    try {
      const depot = path.join(dir, 'depot');
      const envDir = path.join(depot, 'tool');
      const publisher = new DirectoryPublisher(depot);
      // Nothing published: no key (a publish has work to do whatever it publishes).
      expect(await currentStateKey(envDir, depot)).toBeUndefined();
      await publisher.publish({ buildPath: path.join(dir, 'b1'), manifest: manifest('v1'), ...quiet });
      const first = await currentStateKey(envDir, depot);
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      // An up-to-date publish writes nothing: the same key.
      await publisher.publish({ buildPath: path.join(dir, 'b1'), manifest: manifest('v1'), ...quiet });
      expect(await currentStateKey(envDir, depot)).toBe(first);
      // Forward and back again: current names v1 as before, but the state the first key named is gone for good.
      await publisher.publish({ buildPath: path.join(dir, 'b2'), manifest: manifest('v2'), ...quiet });
      const second = await currentStateKey(envDir, depot);
      await publisher.rollback({ name: 'tool', to: 'v1', ...quiet });
      const back = await currentStateKey(envDir, depot);
      expect(new Set([first, second, back]).size).toBe(3);
      // A publish in the way, a missing manifest, split pointers: no key.
      writeFileSync(path.join(envDir, LOCK_FILE), '{}');
      expect(await currentStateKey(envDir, depot)).toBeUndefined();
      await fs.rm(path.join(envDir, LOCK_FILE));
      expect(await currentStateKey(envDir, depot)).toBe(back);
      await fs.rename(path.join(envDir, 'v1/pydepot.json'), path.join(envDir, 'v1/moved.json'));
      expect(await currentStateKey(envDir, depot)).toBeUndefined();
      await fs.rename(path.join(envDir, 'v1/moved.json'), path.join(envDir, 'v1/pydepot.json'));
      writeFileSync(path.join(envDir, 'current.json'), JSON.stringify({ version: 'v2', path: 'v2' }));
      expect(await currentStateKey(envDir, depot)).toBeUndefined();
    } finally {
      cleanup();
    }
  });

  it("names the runtime each leftover of _runtimes belongs to, so it is removed under that runtime's lock", () => {
    const id = 'cpython-3.12.1-linux-x64-7012888be7d8';
    expect([`.${id}.tmp-123-abcdef`, `..${id}.fetch-12-abc123.tmp-12-fedcba.tar.gz`, `.${id}.fetch-12-abc123`, `.trash-${id}-4567`].map(leftoverOwner)).toEqual([id, id, id, id]);
    // Locks, holds and runtimes are not leftovers.
    expect([`.pydepot-publish-${id}.lock`, `.hold-${id}.12-abcdef`, id].map(leftoverOwner)).toEqual([undefined, undefined, undefined]);
  });

  it('leaves the depot as it was when the copy fails (depot full)', async () => {
    const { dir, cleanup } = testdir({ 'b1/bin/python': 'py', 'b1/lib/data': 'x', 'b1/pydepot.json': '{}', 'b2/bin/python': 'py2', 'b2/lib/data': 'y', 'b2/pydepot.json': '{}' });
    try {
      const depot = path.join(dir, 'depot');
      const publisher = new DirectoryPublisher(depot);
      await publisher.publish({ buildPath: path.join(dir, 'b1'), manifest: manifest('v1'), ...quiet });
      const original = fs.copyFile;
      let calls = 0;
      (fs as any).copyFile = async (...args: Parameters<typeof fs.copyFile>) => {
        if (++calls === 2) throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' });
        return original(...args);
      };
      try {
        const error = await publisher.publish({ buildPath: path.join(dir, 'b2'), manifest: manifest('v2'), ...quiet }).catch((e) => e);
        expect(error.message).toMatch(/publishing tool to .*v2 failed: ENOSPC.*left as it was/);
        expect(error.hint).toMatch(/depot is full/);
      } finally {
        (fs as any).copyFile = original;
      }
      expect(readdirSync(path.join(depot, 'tool')).sort()).toEqual(['CHANGELOG.md', 'current', 'current.json', 'releases.json', 'v1']);
      expect(readlinkSync(path.join(depot, 'tool', 'current'))).toBe('v1');
      // The next publish cleans up what the failed one left in the content store.
      await publisher.publish({ buildPath: path.join(dir, 'b2'), manifest: manifest('v2'), ...quiet });
      const store = readdirSync(path.join(depot, '.objects'));
      expect(store.every((n) => /^[0-9a-f]{64}x?$/.test(n))).toBe(true);
    } finally {
      cleanup();
    }
  });

  it('keeps the N newest versions, rolls back and forth, and logs every move', async () => {
    const { dir, cleanup } = testdir({});
    try {
      const depot = path.join(dir, 'depot');
      const envDir = path.join(depot, 'tool');
      const publisher = new DirectoryPublisher(depot, { keep: 2, keepDays: 0 });
      for (const v of ['v1', 'v2', 'v3']) {
        writeFiles(dir, { [`${v}/bin/python`]: v, [`${v}/pydepot.json`]: JSON.stringify(manifest(v, [['a', v]])) });
        await publisher.publish({ buildPath: path.join(dir, v), manifest: manifest(v, [['a', v]]), ...quiet });
      }
      expect(readdirSync(envDir).filter((n) => n.startsWith('v')).sort()).toEqual(['v2', 'v3']);
      const back = await publisher.rollback({ name: 'tool', ...quiet });
      expect(back).toMatchObject({ version: 'v2', currentChanged: true });
      expect(readlinkSync(path.join(envDir, 'current'))).toBe('v2');
      await expect(publisher.rollback({ name: 'tool', to: 'v1', ...quiet })).rejects.toThrow('cannot roll tool back to v1: the depot has v2, v3');
      // Publishing v3 again after the rollback moves current forward again, writing nothing.
      const forward = await publisher.publish({ buildPath: path.join(dir, 'v3'), manifest: manifest('v3', [['a', 'v3']]), ...quiet });
      expect(forward).toMatchObject({ copied: false, currentChanged: true, bytesWritten: 0 });
      expect((await readReleases(envDir)).map((r) => `${r.action} ${r.version}`)).toEqual(['publish v1', 'publish v2', 'publish v3', 'rollback v2', 'publish v3']);
      expect(readdirSync(envDir).filter((n) => n.startsWith('.'))).toEqual([]);
      // v1 is gone, and so is the content only it had (the content store is depot-wide).
      const objects = path.join(path.dirname(envDir), '.objects');
      expect(readdirSync(objects).map((n) => readFileSync(path.join(objects, n), 'utf8')).sort()).toEqual(['v2', 'v3']);
    } finally {
      cleanup();
    }
  });

  it('spares a replaced version for its grace period (keepDays), whatever "keep" says', async () => {
    const { dir, cleanup } = testdir({});
    try {
      const depot = path.join(dir, 'depot');
      const envDir = path.join(depot, 'tool');
      const logs: string[] = [];
      const publisher = new DirectoryPublisher(depot, { keep: 1, keepDays: 1 });
      for (const v of ['v1', 'v2']) {
        writeFiles(dir, { [`${v}/bin/python`]: v, [`${v}/pydepot.json`]: JSON.stringify(manifest(v, [['a', v]])) });
        await publisher.publish({ buildPath: path.join(dir, v), manifest: manifest(v, [['a', v]]), log: (m) => logs.push(m) });
      }
      // v1 stopped being current a moment ago: an artist may still run it.
      expect(readdirSync(envDir).filter((n) => n.startsWith('v')).sort()).toEqual(['v1', 'v2']);
      expect(logs.join('\n')).toMatch(/kept v1 for now \(current less than 1 day\(s\) ago; "keepDays"\)/);
      // A day later, it goes.
      const releases = JSON.parse(readFileSync(path.join(envDir, 'releases.json'), 'utf8'));
      releases.releases[1].at = new Date(Date.now() - 86_400_000 - 1000).toISOString();
      writeFileSync(path.join(envDir, 'releases.json'), JSON.stringify(releases));
      writeFiles(dir, { 'v3/bin/python': 'v3', 'v3/pydepot.json': JSON.stringify(manifest('v3', [['a', 'v3']])) });
      await publisher.publish({ buildPath: path.join(dir, 'v3'), manifest: manifest('v3', [['a', 'v3']]), ...quiet });
      expect(readdirSync(envDir).filter((n) => n.startsWith('v')).sort()).toEqual(['v2', 'v3']);
    } finally {
      cleanup();
    }
  });

  it('resolves the depot: spec, then PYDEPOT_DEPOT, then the workspace default; remotes stay as they are', () => {
    expect(resolveDepot({ workspaceRoot: '/ws', env: {} })).toBe('/ws/dist/depot');
    expect(resolveDepot({ workspaceRoot: '/ws', workspaceDefault: 'out/depot', env: {} })).toBe('/ws/out/depot');
    expect(resolveDepot({ workspaceRoot: '/ws', workspaceDefault: 'out/depot', env: { PYDEPOT_DEPOT: '/mnt/share' } })).toBe('/mnt/share');
    expect(resolveDepot({ workspaceRoot: '/ws', specDepot: '/mnt/special', env: { PYDEPOT_DEPOT: '/mnt/share' } })).toBe('/mnt/special');
    expect(resolveDepot({ workspaceRoot: '/ws', specDepot: 'git@git.studio:tools/depot.git', env: {} })).toBe('git@git.studio:tools/depot.git');
    expect(resolveDepot({ workspaceRoot: '/ws', specDepot: 'https://git.studio/depot.git', env: {} })).toBe('https://git.studio/depot.git');
  });
});
