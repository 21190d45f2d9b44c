import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { HELPERS_DIR } from './python';

/** python/compile.py, run by a real CPython: files that do not compile are skipped like pip skips them. */
describe('compile.py', () => {
  it('compiles what compiles, reports what does not by name, and exits 0', () => {
    const { dir, cleanup } = testdir({
      'site/pkg/__init__.py': 'X = 1\n',
      // PySide6-Essentials ships Jinja templates named *.tmpl.py.
      'site/pkg/templates/__init__.tmpl.py': 'from {{ module }} import {{ names }}\n',
      'site/pkg/py2_only.py': 'print "hello"\n',
      // CPython's deliberately broken test data, in the 3.12 layout: skipped without a word.
      'site/test/test_lib2to3/data/bom.py': 'print "x"\n',
      'site/test/tokenizedata/bad_coding.py': '# -*- coding: uft-8 -*-\n',
    });
    try {
      const out = execFileSync('python3', ['-I', path.join(HELPERS_DIR, 'compile.py'), dir, 'site']).toString();
      expect(out.trim()).toMatch(/^warning: 2 files did not compile for Python 3\.\d+ and are left without bytecode \(as pip does\): site\/pkg\/py2_only\.py, site\/pkg\/templates\/__init__\.tmpl\.py$/);
      expect(existsSync(path.join(dir, 'site/pkg/__pycache__'))).toBe(true);
      expect(execFileSync('find', [dir, '-name', '*.pyc']).toString().trim().split('\n')).toHaveLength(1);
    } finally {
      cleanup();
    }
  });
});
