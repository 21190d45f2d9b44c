import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { FILES_INDEX, METADATA_FILES } from '../environment/manifest';
import { deltaPath, materializeStage, writeStageDelta } from './delta';
import { copyTree, hashIndex, hashTree, indexTree } from '../fs/tree';

async function writeIndex(root: string): Promise<void> {
  const entries = await indexTree(root, (rel) => !METADATA_FILES.has(rel));
  replace(path.join(root, FILES_INDEX), JSON.stringify({ schemaVersion: 1, contentHash: hashIndex(entries), entries }));
}

/** Replace a file through a new inode, as stages do. */
function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

describe('stage deltas', () => {
  it('record what a stage changed and rebuild the full tree from the previous one plus the delta', async () => {
    const { dir, cleanup } = testdir({
      'a/bin/python': '#!/bin/sh\n',
      'a/lib/keep.py': 'keep = 1\n',
      'a/lib/change.py': 'v = 1\n',
      'a/lib/gone/x.py': 'x\n',
      'a/lib/was-file': 'file\n',
      'a/pydepot.json': '{"name":"a"}',
    });
    try {
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      await writeIndex(a);
      await copyTree(a, b, { link: true });
      replace(path.join(b, 'lib/change.py'), 'v = 2\n');
      writeFileSync(path.join(b, 'lib/new.py'), 'new\n', { mode: 0o755 });
      rmSync(path.join(b, 'lib/gone'), { recursive: true });
      rmSync(path.join(b, 'lib/was-file'));
      mkdirSync(path.join(b, 'lib/was-file'));
      writeFileSync(path.join(b, 'lib/was-file/inside'), 'now a folder\n');
      mkdirSync(path.join(b, 'empty'));
      symlinkSync('python', path.join(b, 'bin/python3'));
      replace(path.join(b, 'pydepot.json'), '{"name":"b"}');
      await writeIndex(b);
      const expected = await hashTree(b);

      const stats = await writeStageDelta(b, a);
      expect(stats).toEqual({ files: 5, deletions: 2 }); // change.py, new.py, was-file/inside, pydepot.json, the index; gone/, was-file
      // What Nx stores and restores: delta.json, the metadata files (other tasks hash the manifest) and one pack, however many files changed.
      const listed = execFileSync('find', [deltaPath(b), '-type', 'f', '-printf', '%P\\n'], { encoding: 'utf8' }).trim().split('\n').sort();
      expect(listed).toEqual(['delta.json', 'files.pack', 'files/pydepot-files.json', 'files/pydepot.json']);
      // Up to date: nothing rebuilt (same inodes).
      const inode = lstatSync(path.join(b, 'lib/new.py')).ino;
      await materializeStage(b);
      expect(lstatSync(path.join(b, 'lib/new.py')).ino).toBe(inode);

      // What a cache hit leaves: the delta only. Rebuilt, identical, unchanged files linked to the previous stage.
      rmSync(b, { recursive: true });
      await materializeStage(b);
      expect(await hashTree(b)).toBe(expected);
      expect(readlinkSync(path.join(b, 'bin/python3'))).toBe('python');
      expect(statSync(path.join(b, 'lib/new.py')).mode & 0o777).toBe(0o755);
      expect(existsSync(path.join(b, 'empty'))).toBe(true);
      expect(lstatSync(path.join(b, 'lib/keep.py')).ino).toBe(lstatSync(path.join(a, 'lib/keep.py')).ino);

      // A stale full tree (another build's manifest) is replaced by what the delta says.
      replace(path.join(b, 'pydepot.json'), '{"name":"stale"}');
      await materializeStage(b);
      expect(await hashTree(b)).toBe(expected);
      expect(existsSync(deltaPath(b))).toBe(true);

      // A delta that names a path outside the tree is refused, naming it; nothing is written there.
      const record = JSON.parse(readFileSync(path.join(deltaPath(b), 'delta.json'), 'utf8'));
      record.packed[0].rel = '../escaped.py';
      writeFileSync(path.join(deltaPath(b), 'delta.json'), JSON.stringify(record));
      rmSync(b, { recursive: true });
      await expect(materializeStage(b)).rejects.toThrow(/names a file it may not write: "\.\.\/escaped\.py"/);
      expect(existsSync(path.join(dir, 'escaped.py'))).toBe(false);
    } finally {
      cleanup();
    }
  });

  it('leave a stage without a delta as it is', async () => {
    const { dir, cleanup } = testdir({ 'full/x': 'x' });
    try {
      expect(await materializeStage(path.join(dir, 'full'))).toBe(path.join(dir, 'full'));
    } finally {
      cleanup();
    }
  });
});

describe('stage deltas, rebuilt by two readers at once', () => {
  it('rebuild once; both get the full tree', async () => {
    const { dir, cleanup } = testdir({ 'a/x': 'x\n', 'a/pydepot.json': '{}' });
    try {
      const a = path.join(dir, 'a');
      const b = path.join(dir, 'b');
      await writeIndex(a);
      await copyTree(a, b, { link: true });
      for (let i = 0; i < 50; i++) writeFileSync(path.join(b, `new-${i}`), `${i}\n`);
      await writeIndex(b);
      const expected = await hashTree(b);
      await writeStageDelta(b, a);
      rmSync(b, { recursive: true });
      await Promise.all([materializeStage(b), materializeStage(b), materializeStage(b)]);
      expect(await hashTree(b)).toBe(expected);
      expect(existsSync(`${b}.lock`)).toBe(false);
    } finally {
      cleanup();
    }
  });
});
