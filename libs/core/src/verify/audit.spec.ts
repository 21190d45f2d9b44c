import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { auditTree } from './audit';

describe('auditTree', () => {
  it('finds planted build paths and bad symlinks, each with a reason and a hint', async () => {
    const build = '/work/ws/dist/pydepot/tool/env';
    const { dir, cleanup } = testdir({
      'bin/tool': `#!${build}/bin/python3.12\nimport sys\n`,
      'lib/python3.12/site-packages/extra.pth': `${build}/lib/extra\n`,
      'lib/libfake.so': Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0]), Buffer.from(`RUNPATH\0${build}/lib\0`)]),
      'lib/python3.12/ok.py': 'print("relative only")\n',
    });
    try {
      await fs.symlink('/usr/bin/python3', path.join(dir, 'bin', 'abs-link'));
      await fs.symlink('../../outside', path.join(dir, 'bin', 'escaping'));
      await fs.symlink('tool', path.join(dir, 'bin', 'fine'));
      const findings = await auditTree(dir, ['/work/ws']);
      expect(findings.map((f) => [f.path, f.reason.split(' contains')[0].split(' to ')[0]])).toEqual([
        ['bin/abs-link', 'absolute symlink'],
        ['bin/escaping', 'symlink'],
        ['bin/tool', 'script'],
        ['lib/libfake.so', 'ELF binary'],
        ['lib/python3.12/site-packages/extra.pth', 'text file'],
      ]);
      expect(findings.find((f) => f.path === 'bin/tool')!.hint).toMatch(/trampoline/);
      expect(findings.find((f) => f.path.endsWith('.pth'))!.hint).toMatch(/\.pth/);
      expect(findings.find((f) => f.path.endsWith('.so'))!.hint).toMatch(/RUNPATH/);
      expect(await auditTree(path.join(dir, 'lib/python3.12'), ['/work/ws'])).toHaveLength(1);
    } finally {
      cleanup();
    }
  });
});
