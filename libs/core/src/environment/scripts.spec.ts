import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pyenvPython, testdir } from '../../../../tools/testing';
import { makeScriptsRelocatable, parseScript, trampolinePreamble } from './scripts';

const BODY = "# -*- coding: utf-8 -*-\nimport sys\nprint('hello', sys.argv[1:])\n";

describe('console scripts', () => {
  it('parses both shebang forms pip writes', () => {
    expect(parseScript(`#!/build/env/bin/python3.12\n${BODY}`)).toEqual({ interpreter: 'python3.12', body: BODY });
    expect(parseScript(`#!/bin/sh\n'''exec' "/very long/env/bin/python" "$0" "$@"\n' '''\n${BODY}`)).toEqual({ interpreter: 'python', body: BODY });
    expect(parseScript('#!/bin/bash\necho hi\n')).toBeUndefined();
    expect(parseScript('#!/usr/bin/env node\n')).toBeUndefined();
  });

  it('rewrites scripts into trampolines that run from any path and through symlinks', () => {
    const { dir, cleanup } = testdir();
    try {
      const env = path.join(dir, 'env');
      mkdirSync(path.join(env, 'bin'), { recursive: true });
      mkdirSync(path.join(env, 'lib/python3.12/site-packages/tool-1.0.dist-info'), { recursive: true });
      symlinkSync(pyenvPython('3.12'), path.join(env, 'bin', 'python3.12'));
      writeFileSync(path.join(env, 'bin', 'tool'), `#!${env}/bin/python3.12\n${BODY}`, { mode: 0o755 });
      // pip writes RECORD with csv's "\r\n" line ends.
      writeFileSync(path.join(env, 'lib/python3.12/site-packages/tool-1.0.dist-info/RECORD'), '../../../bin/tool,sha256=old,12\r\ntool/__init__.py,sha256=x,1\r\n');
      const rewritten = makeScriptsRelocatable(env, 'bin', 'lib/python3.12/site-packages');
      return rewritten.then((names) => {
        expect(names).toEqual(['tool']);
        const text = readFileSync(path.join(env, 'bin', 'tool'), 'utf8');
        expect(text.startsWith(trampolinePreamble('python3.12'))).toBe(true);
        expect(text).not.toContain(env);
        const record = readFileSync(path.join(env, 'lib/python3.12/site-packages/tool-1.0.dist-info/RECORD'), 'utf8');
        expect(record).toMatch(new RegExp(`^\\.\\./\\.\\./\\.\\./bin/tool,sha256=[A-Za-z0-9_-]{43},${Buffer.byteLength(text)}\r$`, 'm'));
        expect(record.endsWith('tool/__init__.py,sha256=x,1\r\n')).toBe(true);
        // Symlinked from elsewhere, it still finds the python next to its real location.
        symlinkSync(path.join(env, 'bin', 'tool'), path.join(dir, 'tool-link'));
        expect(execFileSync(path.join(dir, 'tool-link'), ['a', 'b c'], { cwd: '/' }).toString()).toBe("hello ['a', 'b c']\n");
      }).finally(cleanup);
    } catch (error) {
      cleanup();
      throw error;
    }
  });
});
