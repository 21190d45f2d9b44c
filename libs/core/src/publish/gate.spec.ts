import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fakeManifest, testdir, writeFiles } from '../../../../tools/testing';
import { ArchivePublisher } from './archive';
import { DirectoryPublisher } from './directory';
import { GitPublisher } from './git';
import { Publisher } from './publisher';

const manifest = fakeManifest;
const quiet = { log: () => undefined };

/**
 * The gate, for every publisher: a version whose checks fail never becomes
 * current and is not left behind; the checks see the version as published;
 * checkout hands back what is current.
 */
describe.each(['directory', 'archive', 'git'])('the publish gate (%s)', (kind) => {
  const { dir, cleanup } = testdir({});
  afterAll(cleanup);
  for (const v of ['v1', 'v2']) writeFiles(dir, { [`${v}/bin/tool`]: `echo ${v}`, [`${v}/pydepot.json`]: JSON.stringify(manifest(v)) });
  const depot = path.join(dir, 'depot');
  let publisher: Publisher;
  if (kind === 'directory') publisher = new DirectoryPublisher(depot);
  else if (kind === 'archive') publisher = new ArchivePublisher(depot);
  else {
    execFileSync('git', ['init', '--quiet', '--bare', '-b', 'main', depot]);
    publisher = new GitPublisher(depot, { cacheDir: path.join(dir, 'cache') });
  }

  it('runs the checks on the version as published, then makes it current', async () => {
    const seen: string[] = [];
    const gate = async (tree: string) => void seen.push(readFileSync(path.join(tree, 'bin/tool'), 'utf8'));
    const result = await publisher.publish({ buildPath: path.join(dir, 'v1'), manifest: manifest('v1'), gate, ...quiet });
    expect(result.currentChanged).toBe(true);
    expect(seen).toEqual(['echo v1']);
  });

  it('keeps current where it was when a check fails, says which, and leaves no trace of the version', async () => {
    const gate = async () => {
      throw new Error('import exporter: ModuleNotFoundError');
    };
    await expect(publisher.publish({ buildPath: path.join(dir, 'v2'), manifest: manifest('v2'), gate, ...quiet })).rejects.toThrow(
      /tool v2 failed its checks; current still points at v1:\nimport exporter: ModuleNotFoundError/,
    );
    const tree = await publisher.checkout('tool');
    try {
      expect(tree.version).toBe('v1');
      expect(readFileSync(path.join(tree.path, 'bin/tool'), 'utf8')).toBe('echo v1');
    } finally {
      await tree.dispose();
    }
    if (kind === 'directory') expect(readdirSync(path.join(depot, 'tool')).filter((n) => n.startsWith('v'))).toEqual(['v1']);
    if (kind === 'archive') expect(readdirSync(path.join(depot, 'tool')).filter((n) => n.includes('v2'))).toEqual([]);
    if (kind === 'git') expect(execFileSync('git', ['-C', depot, 'tag', '--list']).toString().trim()).toBe('tool/v1');
    expect(existsSync(tree.path) && kind !== 'directory').toBe(false); // a checkout is temporary
  });
});

describe('permissions of a published version', () => {
  it('are readable by everyone under umask 077, and group-writable (setgid folders) when asked', async () => {
    const { dir, cleanup } = testdir({});
    const umask = process.umask(0o077);
    try {
      writeFiles(dir, { 'b/bin/tool': '#!/bin/sh\n', 'b/lib/data.txt': 'x', 'b/pydepot.json': JSON.stringify(manifest('v1')) });
      execFileSync('chmod', ['-R', 'go-rwx', path.join(dir, 'b')]);
      execFileSync('chmod', ['700', path.join(dir, 'b/bin/tool')]);
      const mode = (p: string) => statSync(p).mode & 0o7777;
      await new DirectoryPublisher(path.join(dir, 'depot')).publish({ buildPath: path.join(dir, 'b'), manifest: manifest('v1'), ...quiet });
      const env = path.join(dir, 'depot/tool');
      expect([mode(path.join(env, 'v1/bin/tool')), mode(path.join(env, 'v1/lib/data.txt')), mode(path.join(env, 'v1/lib')), mode(path.join(env, 'current.json')), mode(env), mode(path.join(dir, 'depot'))]).toEqual([
        0o755, 0o644, 0o755, 0o644, 0o755, 0o755,
      ]);
      await new DirectoryPublisher(path.join(dir, 'shared'), { groupWritable: true }).publish({ buildPath: path.join(dir, 'b'), manifest: manifest('v1'), ...quiet });
      const shared = path.join(dir, 'shared/tool');
      expect([mode(path.join(shared, 'v1/bin/tool')), mode(path.join(shared, 'v1/lib/data.txt')), mode(path.join(shared, 'v1/lib')), mode(shared)]).toEqual([0o775, 0o664, 0o2775, 0o2775]);
    } finally {
      process.umask(umask);
      cleanup();
    }
  });
});

describe('publishers that carry environments whole', () => {
  it.each(['archive', 'git'])('%s refuses an environment built in the shared layout, naming the runtime and what to set', async (...[kind]) => {
    const { dir, cleanup } = testdir({});
    try {
      const shared = { ...manifest('v1'), runtime: { id: 'cpython-3.12.1-linux-x64-0123456789ab', path: '../../_runtimes/cpython-3.12.1-linux-x64-0123456789ab' } };
      writeFiles(dir, { 'v1/pydepot.json': JSON.stringify(shared) });
      const publisher: Publisher = kind === 'archive' ? new ArchivePublisher(path.join(dir, 'depot')) : new GitPublisher(path.join(dir, 'depot.git'), { cacheDir: path.join(dir, 'cache') });
      const error = await publisher.publish({ buildPath: path.join(dir, 'v1'), manifest: shared, ...quiet }).catch((e: Error & { hint?: string }) => e);
      expect((error as Error).message).toContain(`was built in the shared layout (runtime cpython-3.12.1-linux-x64-0123456789ab), which the ${kind} publisher cannot carry`);
      expect((error as { hint?: string }).hint).toContain(`"publish": {"to": "${kind}"}`);
      expect(existsSync(path.join(dir, 'depot'))).toBe(false);
    } finally {
      cleanup();
    }
  });
});
