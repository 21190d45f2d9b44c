import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { findCompiler } from '../interpreter/launcher';
import { acquireFileLock } from './lock';

const quiet = { log: () => undefined, activity: 'publish', subject: 'tool' };
const root = process.getuid?.() === 0;

describe('the file lock under faults', () => {
  (root ? it : it.skip)('on a full disk, leaves no lock behind for the next run to wait out (a real tmpfs, filled)', async () => {
    const { dir, cleanup } = testdir({}, 'pydepot-lock-full-');
    const mnt = path.join(dir, 'mnt');
    execFileSync('mkdir', [mnt]);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', mnt]);
    try {
      try {
        writeFileSync(path.join(mnt, 'filler'), Buffer.alloc(1 << 20));
      } catch {
        // ENOSPC: the disk is full now
      }
      const file = path.join(mnt, '.lock');
      await expect(acquireFileLock(file, quiet)).rejects.toThrow(/cannot create the publish lock .*\.lock: .*ENOSPC/);
      expect(existsSync(file)).toBe(false);
    } finally {
      execFileSync('umount', [mnt]);
      cleanup();
    }
  });
});

describe('the launcher compiler', () => {
  it('takes CC with arguments, as make does ("ccache gcc", "gcc -m64")', async () => {
    const { dir, cleanup } = testdir({ 'bin/mycc': '#!/bin/sh\n' });
    try {
      execFileSync('chmod', ['+x', path.join(dir, 'bin/mycc')]);
      expect(await findCompiler({ CC: 'mycc -m64 -O1', PATH: path.join(dir, 'bin') })).toEqual({ file: path.join(dir, 'bin/mycc'), args: ['-m64', '-O1'] });
      expect(await findCompiler({ CC: `  ${path.join(dir, 'bin/mycc')}  `, PATH: '' })).toEqual({ file: path.join(dir, 'bin/mycc'), args: [] });
      expect(await findCompiler({ CC: 'nonesuch gcc', PATH: path.join(dir, 'bin') })).toBeUndefined();
    } finally {
      cleanup();
    }
  });
});
