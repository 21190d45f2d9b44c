import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { testdir } from '../../../../tools/testing';
import { makeRelocatable, mapRunpathEntry, neutralPath, PREFIX_PLACEHOLDER, scrubPrefix } from './relocate';

const OLD = '/opt/build/python-3.12.1';

describe('relocation', () => {
  it('maps RUNPATH entries inside the old prefix to $ORIGIN-relative ones', () => {
    expect(mapRunpathEntry(`${OLD}/lib`, OLD, 'bin')).toBe('$ORIGIN/../lib');
    expect(mapRunpathEntry(`${OLD}/lib`, OLD, 'lib')).toBe('$ORIGIN');
    expect(mapRunpathEntry(`${OLD}/lib`, OLD, 'lib/python3.12/lib-dynload')).toBe('$ORIGIN/../..');
    expect(mapRunpathEntry('/usr/lib/openssl', OLD, 'lib')).toBe('/usr/lib/openssl');
    expect(mapRunpathEntry(`${OLD}-other/lib`, OLD, 'lib')).toBe(`${OLD}-other/lib`);
  });

  it('makes a same-length neutral path', () => {
    for (const n of [5, 30, 31, 80]) expect(neutralPath(n)).toHaveLength(n);
    expect(neutralPath(40).startsWith('/nonexistent-pydepot')).toBe(true);
  });

  it('rewrites sysconfig data, python-config and pkg-config files to find the prefix at run time', async () => {
    const { dir, cleanup } = testdir({
      'lib/python3.12/_sysconfigdata__linux_x86_64-linux-gnu.py': `build_time_vars = {'prefix': '${OLD}', 'LIBDIR': '${OLD}/lib', 'VERSION': '3.12', 'SIZE': 8}\n`,
      'bin/python3.12-config': `#!/bin/sh\ninstalled_prefix ()\n{\n    RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))\n    echo $RESULT\n}\nprefix_real=$(installed_prefix "$0")\nprefix="${OLD}"\nLIBS="-L${OLD}/lib"\n`,
      'lib/pkgconfig/python-3.12.pc': `prefix=${OLD}\nlibdir=${OLD}/lib\nincludedir=\${prefix}/include\n`,
    });
    try {
      await makeRelocatable(dir, { minor: '3.12', originalPrefix: OLD, log: () => undefined });
      const sysconfig = readFileSync(path.join(dir, 'lib/python3.12/_sysconfigdata__linux_x86_64-linux-gnu.py'), 'utf8');
      expect(sysconfig).not.toContain(OLD);
      expect(sysconfig).toContain(`'LIBDIR': '${PREFIX_PLACEHOLDER}/lib'`);
      const config = readFileSync(path.join(dir, 'bin/python3.12-config'), 'utf8');
      // The flags quote a prefix with spaces (prefix_q) and carry no -rpath to it.
      expect(config).toContain('prefix="${prefix_real}"\nLIBS="-L${prefix_q}/lib"');
      expect(config).not.toContain('-Wl,-rpath');
      // Quoted, so a prefix with spaces ("/Volumes/Tools Share") works.
      expect(config).toContain('RESULT=$(dirname "$(cd "$(dirname "$1")" && pwd -P)")\n    echo "$RESULT"');
      expect(readFileSync(path.join(dir, 'lib/pkgconfig/python-3.12.pc'), 'utf8')).toBe('prefix=${pcfiledir}/../..\nlibdir=${prefix}/lib\nincludedir=${prefix}/include\n');
    } finally {
      cleanup();
    }
  });

  it('drops -rpath flags naming the prefix and quotes a prefix with spaces word by word at run time', async () => {
    const vars = `build_time_vars = {'LIBDIR': '${OLD}/lib',\n 'LDSHARED': 'gcc -shared -L${OLD}/lib '\n '-Wl,-rpath,${OLD}/lib',\n 'CONFIG_ARGS': "'--prefix=${OLD}'"}\n`;
    const { dir, cleanup } = testdir({ 'lib/python3.12/_sysconfigdata__linux_x86_64-linux-gnu.py': vars, 'bin/README': '' });
    try {
      await makeRelocatable(dir, { minor: '3.12', originalPrefix: OLD, log: () => undefined });
      const read = (root: string) =>
        JSON.parse(
          execFileSync('python3', ['-c', 'import json, runpy, sys; print(json.dumps(runpy.run_path(sys.argv[1])["build_time_vars"]))', path.join(root, 'lib/python3.12/_sysconfigdata__linux_x86_64-linux-gnu.py')]).toString(),
        );
      expect(read(dir).LDSHARED).toBe(`gcc -shared -L${dir}/lib `);
      const spaced = path.join(dir, "Tööls Share's", 'env');
      mkdirSync(spaced, { recursive: true });
      cpSync(path.join(dir, 'lib'), path.join(spaced, 'lib'), { recursive: true });
      const moved = read(spaced);
      expect(moved.LIBDIR).toBe(`${spaced}/lib`);
      // distutils' split_quoted (and a POSIX shell) read one word: -L<prefix>/lib.
      expect(moved.LDSHARED).toBe(`gcc -shared '-L${spaced.replace(/'/g, "'\"'\"'")}/lib' `);
    } finally {
      cleanup();
    }
  });

  it('scrubs a build prefix from binaries without touching a string merged into its tail', () => {
    // Linkers merge "3.12.1" (sys.version) into the tail of ".../versions/3.12.1": that tail must survive.
    const data = Buffer.from('\0-L/root/.pyenv/versions/3.12.1/lib\0/root/.pyenv/versions/3.12.1\0', 'latin1');
    const versionAt = data.length - '3.12.1\0'.length;
    expect(scrubPrefix(data, '/root/.pyenv/versions/3.12.1')).toBe(true);
    expect(data.includes('/root/.pyenv/versions/3.12.1')).toBe(false);
    expect(data.subarray(versionAt).toString('latin1')).toBe('3.12.1\0');
    expect(data.length).toBe(Buffer.byteLength('\0-L/root/.pyenv/versions/3.12.1/lib\0/root/.pyenv/versions/3.12.1\0'));
    expect(data.toString('latin1')).toBe('\0-L/nonexistent-pydepot-/3.12.1/lib\0/nonexistent-pydepot-/3.12.1\0');
    expect(scrubPrefix(Buffer.from('nothing here'), '/root/.pyenv/versions/3.12.1')).toBe(false);
  });
});
