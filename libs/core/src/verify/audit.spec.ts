import { execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { readElfRunpaths } from '../interpreter/elf';
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
        ['bin/tool', 'script shebang names /work/ws/dist/pydepot/tool/env/bin/python3.12'],
        ['lib/libfake.so', 'ELF binary'],
        ['lib/python3.12/site-packages/extra.pth', '.pth line names the absolute path /work/ws/dist/pydepot/tool/env/lib/extra'],
      ]);
      expect(findings.find((f) => f.path === 'bin/tool')!.hint).toMatch(/trampoline/);
      expect(findings.find((f) => f.path.endsWith('.pth'))!.hint).toMatch(/\.pth/);
      expect(findings.find((f) => f.path.endsWith('.so'))!.hint).toMatch(/RUNPATH/);
      expect(await auditTree(path.join(dir, 'lib/python3.12'), ['/work/ws'])).toHaveLength(1);
    } finally {
      cleanup();
    }
  });

  it('flags absolute RUNPATHs, shebangs and .pth lines even when they name no known build path', async () => {
    const { dir, cleanup } = testdir({
      'bin/tool': '#!/opt/elsewhere/python3\nimport sys\n',
      'bin/fine-tool': '#!/bin/sh\nexec python "$0"\n',
      'lib/python3.12/site-packages/abs.pth': 'import os\nrelative/dir\n/opt/elsewhere/lib\n',
      'lib/python3.12/cgi.py': '#! /usr/local/bin/python\n',
    });
    try {
      // Real ELF objects from the real toolchain: one with an absolute RUNPATH, one $ORIGIN-relative.
      execFileSync('gcc', ['-shared', '-o', path.join(dir, 'lib/libabs.so'), '-Wl,-rpath,/opt/build/lib:$ORIGIN/x', '-x', 'c', '/dev/null']);
      execFileSync('gcc', ['-shared', '-o', path.join(dir, 'lib/librel.so'), '-Wl,-rpath,$ORIGIN/../lib', '-x', 'c', '/dev/null']);
      expect(readElfRunpaths(readFileSync(path.join(dir, 'lib/libabs.so')))).toEqual(['/opt/build/lib', '$ORIGIN/x']);
      expect(readElfRunpaths(readFileSync(path.join(dir, 'lib/librel.so')))).toEqual(['$ORIGIN/../lib']);
      expect(readElfRunpaths(readFileSync('/bin/true'))).toEqual([]);
      const findings = await auditTree(dir, []);
      expect(findings.map((f) => `${f.path}: ${f.reason}`)).toEqual([
        'bin/tool: script shebang names /opt/elsewhere/python3',
        'lib/libabs.so: ELF RUNPATH entry /opt/build/lib is absolute',
        'lib/python3.12/site-packages/abs.pth: .pth line names the absolute path /opt/elsewhere/lib',
      ]);
      expect(findings[1].hint).toMatch(/\$ORIGIN/);
    } finally {
      cleanup();
    }
  });
});
