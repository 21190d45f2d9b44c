import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { buildDirectoryAtomically, writeFileAtomic } from './atomic';
import { copyTree, hashTree } from './tree';

describe('atomic file operations', () => {
  it('replaces a folder only when the build succeeds', async () => {
    const { dir, cleanup } = testdir({ 'out/old.txt': 'old' });
    try {
      const target = path.join(dir, 'out');
      await expect(
        buildDirectoryAtomically(target, async (tmp) => {
          await fs.mkdir(tmp);
          writeFileSync(path.join(tmp, 'half.txt'), 'half');
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      expect(readdirSync(target)).toEqual(['old.txt']);
      expect(readdirSync(dir)).toEqual(['out']);
      await buildDirectoryAtomically(target, async (tmp) => {
        await fs.mkdir(tmp);
        writeFileSync(path.join(tmp, 'new.txt'), 'new');
      });
      expect(readdirSync(target)).toEqual(['new.txt']);
      expect(readdirSync(dir)).toEqual(['out']);
    } finally {
      cleanup();
    }
  });

  it('removes temp folders a killed run left behind', async () => {
    const { dir, cleanup } = testdir({ '.out.tmp-999999-abcdef/x': 'x', 'out/a': 'a' });
    try {
      await buildDirectoryAtomically(path.join(dir, 'out'), (tmp) => fs.mkdir(tmp));
      expect(readdirSync(dir)).toEqual(['out']);
    } finally {
      cleanup();
    }
  });

  it('writes files atomically', async () => {
    const { dir, cleanup } = testdir();
    try {
      await writeFileAtomic(path.join(dir, 'a/b.txt'), 'hello');
      expect(readFileSync(path.join(dir, 'a/b.txt'), 'utf8')).toBe('hello');
      expect(readdirSync(path.join(dir, 'a'))).toEqual(['b.txt']);
    } finally {
      cleanup();
    }
  });

  it('copies and hard-links trees with symlinks and modes, and hashes content not metadata', async () => {
    const { dir, cleanup } = testdir({ 'src/bin/tool': '#!/bin/sh\n', 'src/lib/a.py': 'a = 1\n' });
    try {
      await fs.chmod(path.join(dir, 'src/bin/tool'), 0o755);
      await fs.symlink('tool', path.join(dir, 'src/bin/alias'));
      await copyTree(path.join(dir, 'src'), path.join(dir, 'copy'));
      await copyTree(path.join(dir, 'src'), path.join(dir, 'linked'), { link: true });
      expect((await fs.stat(path.join(dir, 'copy/bin/tool'))).mode & 0o777).toBe(0o755);
      expect(await fs.readlink(path.join(dir, 'copy/bin/alias'))).toBe('tool');
      expect((await fs.stat(path.join(dir, 'linked/lib/a.py'))).ino).toBe((await fs.stat(path.join(dir, 'src/lib/a.py'))).ino);
      const h = await hashTree(path.join(dir, 'src'));
      expect(await hashTree(path.join(dir, 'copy'))).toBe(h);
      await fs.utimes(path.join(dir, 'copy/lib/a.py'), 1, 1);
      expect(await hashTree(path.join(dir, 'copy'))).toBe(h);
      writeFileSync(path.join(dir, 'copy/lib/a.py'), 'a = 2\n');
      expect(await hashTree(path.join(dir, 'copy'))).not.toBe(h);
      expect(existsSync(path.join(dir, 'copy/lib'))).toBe(true);
    } finally {
      cleanup();
    }
  });
});
