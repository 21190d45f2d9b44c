import { fakeManifest, testdir } from '../../../../tools/testing';
import { parseEnvironmentSpec } from '../model/environment';
import { PydepotError } from '../errors';
import { peSubsystem } from '../publish/stable-path';
import { windowsForms } from './audit';
import { checkPublishedTree } from './verify';

describe('checking a Windows version on an agent of another OS', () => {
  const spec = parseEnvironmentSpec(JSON.stringify({ python: '3.11', verify: { imports: ['numpy'] } }), '/ws/environments/tool/environment.json', 'tool');
  const windows = { ...fakeManifest('v1'), platform: 'win32-x64', runtime: { id: 'rt', path: '../../_runtimes/rt' }, verify: { imports: ['numpy'], commands: [] } };
  const saved = process.env.PYDEPOT_WINE;
  beforeAll(() => (process.env.PYDEPOT_WINE = '/nonexistent/wine'));
  afterAll(() => (saved === undefined ? delete process.env.PYDEPOT_WINE : (process.env.PYDEPOT_WINE = saved)));

  it('says its smoke checks did not run where there is no Wine, and still audits it', async () => {
    if (process.platform === 'win32') return;
    const { dir, cleanup } = testdir({ 'pydepot.json': JSON.stringify(windows), 'Lib/site-packages/ok.py': 'x = 1\n' });
    try {
      const result = await checkPublishedTree({ tree: dir, spec, forbiddenPaths: ['/build/agent/ws'] });
      expect(result).toEqual({ passed: [], audited: true, skipped: expect.stringMatching(/did not run: no Wine on this linux agent \(install wine, or run verify-windows on a Windows machine\)/) });
    } finally {
      cleanup();
    }
  });

  it('finds a build path in Windows form and as UTF-16 in a Windows version', async () => {
    if (process.platform === 'win32') return;
    const { dir, cleanup } = testdir({
      'pydepot.json': JSON.stringify(windows),
      'Lib/site-packages/tool/config.txt': 'root = Z:\\build\\agent\\ws\\dist\n',
      'Lib/site-packages/tool/native.pyd': Buffer.concat([Buffer.from('MZ'), Buffer.from('/build/agent/ws/lib', 'utf16le')]),
    });
    try {
      const error = await checkPublishedTree({ tree: dir, spec, forbiddenPaths: ['/build/agent/ws'] }).catch((e: PydepotError) => e);
      expect((error as PydepotError).message).toMatch(/config\.txt: text file contains \\build\\agent\\ws/);
      expect((error as PydepotError).message).toMatch(/native\.pyd: binary file contains \/build\/agent\/ws \(UTF-16\)/);
    } finally {
      cleanup();
    }
    expect(windowsForms('/a/b').map((f) => f.text)).toEqual(['/a/b', '/a/b (UTF-16)', '\\a\\b', '\\a\\b (UTF-16)']);
  });

  it('tells console from GUI programs by their PE header (the stable path copies the matching launcher)', () => {
    const pe = (subsystem: number) => {
      const head = Buffer.alloc(0x200);
      head.write('MZ', 0, 'latin1');
      head.writeUInt32LE(0x80, 0x3c);
      head.write('PE\0\0', 0x80, 'latin1');
      head.writeUInt16LE(subsystem, 0x80 + 24 + 68);
      return head;
    };
    expect(peSubsystem(pe(3))).toBe(3);
    expect(peSubsystem(pe(2))).toBe(2);
    expect(peSubsystem(Buffer.from('#!/bin/sh\n'))).toBeUndefined();
  });
});
