import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { python, testdir, writeFiles } from '../../../../tools/testing';
import { extractArchive } from './extract';

/** Build an archive with Python's tarfile/zipfile, which write whatever names they are given. */
function makeArchive(file: string, entries: Array<{ name: string; type?: 'file' | 'dir' | 'symlink' | 'hardlink'; data?: string; target?: string; mode?: number }>) {
  python(
    `
import io, json, sys, tarfile, zipfile
out, entries = sys.argv[1], json.loads(sys.argv[2])
if out.endswith('.zip'):
    with zipfile.ZipFile(out, 'w') as z:
        for e in entries:
            info = zipfile.ZipInfo(e['name'])
            info.create_system = 3
            t = e.get('type', 'file')
            mode = (0o120000 if t == 'symlink' else 0o040000 if t == 'dir' else 0o100000) | e.get('mode', 0o644)
            info.external_attr = mode << 16
            z.writestr(info, e.get('target') if t == 'symlink' else e.get('data', ''))
else:
    with tarfile.open(out, 'w:gz', format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            info = tarfile.TarInfo(e['name'])
            kind = e.get('type', 'file')
            info.mode = e.get('mode', 0o644)
            data = e.get('data', '').encode()
            if kind == 'dir': info.type = tarfile.DIRTYPE
            elif kind == 'symlink': info.type, info.linkname = tarfile.SYMTYPE, e['target']
            elif kind == 'hardlink': info.type, info.linkname = tarfile.LNKTYPE, e['target']
            else: info.size = len(data)
            t.addfile(info, io.BytesIO(data) if kind == 'file' else None)
`,
    [file, JSON.stringify(entries)],
  );
}

describe.each(['tar.gz', 'zip'])('extractArchive (%s)', (ext) => {
  const { dir, cleanup } = testdir();
  afterAll(cleanup);
  let n = 0;
  const fresh = () => path.join(dir, `case-${++n}`);

  it('extracts files, folders, modes and in-tree symlinks', async () => {
    const archive = path.join(fresh(), `ok.${ext}`);
    require('node:fs').mkdirSync(path.dirname(archive), { recursive: true });
    makeArchive(archive, [
      { name: 'python/', type: 'dir', mode: 0o755 },
      { name: 'python/bin/python3.12', data: 'exe', mode: 0o755 },
      { name: 'python/bin/python3', type: 'symlink', target: 'python3.12' },
      { name: 'python/lib/python3.12/os.py', data: '# os' },
      { name: `python/${'long-name-'.repeat(12)}.txt`, data: 'long' },
    ]);
    const out = path.join(path.dirname(archive), 'out');
    await extractArchive(archive, out);
    expect(readFileSync(path.join(out, 'python/bin/python3.12'), 'utf8')).toBe('exe');
    expect(lstatSync(path.join(out, 'python/bin/python3.12')).mode & 0o111).toBeTruthy();
    expect(readlinkSync(path.join(out, 'python/bin/python3'))).toBe('python3.12');
    expect(readFileSync(path.join(out, `python/${'long-name-'.repeat(12)}.txt`), 'utf8')).toBe('long');
  });

  const hostile: Array<[string, Parameters<typeof makeArchive>[1], RegExp]> = [
    ['a ../ entry (zip-slip)', [{ name: '../evil.txt', data: 'x' }], /"\.\.\/evil\.txt" contains "\.\."/],
    ['a nested ../ entry', [{ name: 'python/../../evil.txt', data: 'x' }], /contains "\.\."/],
    ['an absolute path', [{ name: '/tmp/pydepot-evil.txt', data: 'x' }], /has an absolute path/],
    ['an absolute symlink', [{ name: 'link', type: 'symlink', target: '/etc' }], /symlink to the absolute path "\/etc"/],
    ['an escaping symlink', [{ name: 'python/link', type: 'symlink', target: '../../outside' }], /outside the target folder/],
    [
      'a symlink chain that escapes',
      [
        { name: 'a/b', type: 'symlink', target: '..' },
        { name: 'sub', type: 'symlink', target: 'a/b' },
        { name: 'esc', type: 'symlink', target: 'sub/..' },
      ],
      /resolves outside the target folder/,
    ],
    ['a write through a symlink', [{ name: 'dir', type: 'symlink', target: 'real' }, { name: 'dir/file.txt', data: 'x' }], /symlink over an existing entry/],
  ];
  if (ext === 'tar.gz') hostile.push(['a hard link out of the tree', [{ name: 'hl', type: 'hardlink', target: '../../../etc/passwd' }], /contains "\.\."/]);

  it.each(hostile)('refuses %s, naming the entry, and writes nothing outside', async (_what, entries, message) => {
    const base = fresh();
    require('node:fs').mkdirSync(base, { recursive: true });
    const archive = path.join(base, `bad.${ext}`);
    makeArchive(archive, entries);
    const out = path.join(base, 'deep', 'out');
    require('node:fs').mkdirSync(path.dirname(out), { recursive: true });
    await expect(extractArchive(archive, out)).rejects.toThrow(message);
    expect(existsSync(path.join(base, 'evil.txt'))).toBe(false);
    expect(existsSync(path.join(base, 'deep', 'evil.txt'))).toBe(false);
    expect(existsSync('/tmp/pydepot-evil.txt')).toBe(false);
  });

  it('says a truncated archive is truncated', async () => {
    const base = fresh();
    require('node:fs').mkdirSync(base, { recursive: true });
    const archive = path.join(base, `ok.${ext}`);
    makeArchive(archive, [{ name: 'big.bin', data: require('node:crypto').randomBytes(30000).toString('hex') }]);
    const data = readFileSync(archive);
    require('node:fs').writeFileSync(archive, data.subarray(0, Math.floor(data.length / 2)));
    await expect(extractArchive(archive, path.join(base, 'out'))).rejects.toThrow(/truncated|not a valid|unexpected end|incorrect header/i);
  });
});

describe('extractArchive with hashes', () => {
  it('hashes each file as it writes it, small or streamed, and leaves a path written twice to whoever reads the tree', async () => {
    const { dir, cleanup } = testdir();
    try {
      const big = 'b'.repeat(3 * 2 ** 20); // past the small-file size: streamed
      const src = path.join(dir, 'src');
      writeFiles(src, { 'small.txt': 'hello', 'big.bin': big, 'twice.txt': 'first' });
      execFileSync('tar', ['-cf', path.join(dir, 'a.tar'), '-C', src, 'small.txt', 'big.bin', 'twice.txt']);
      writeFiles(src, { 'twice.txt': 'second' });
      execFileSync('tar', ['-rf', path.join(dir, 'a.tar'), '-C', src, 'twice.txt']); // the same name again, later in the archive
      execFileSync('gzip', [path.join(dir, 'a.tar')]);
      const archive = path.join(dir, 'a.tar.gz');
      const hashes = new Map<string, string>();
      const dest = path.join(dir, 'out');
      await extractArchive(archive, dest, undefined, { hashes });
      const sha = (text: string) => createHash('sha256').update(text).digest('hex');
      expect(Object.fromEntries([...hashes].map(([p, h]) => [path.relative(dest, p), h]))).toEqual({ 'small.txt': sha('hello'), 'big.bin': sha(big) });
      expect(readFileSync(path.join(dest, 'twice.txt'), 'utf8')).toBe('second');
    } finally {
      cleanup();
    }
  });
});

describe('extractArchiveInWorker', () => {
  it('extracts on a worker thread with the same rules and hashes, and refuses a hostile archive naming the entry', () => {
    const { dir, cleanup } = testdir();
    try {
      const good = path.join(dir, 'good.tar.gz');
      const bad = path.join(dir, 'bad.tar.gz');
      makeArchive(good, [{ name: 'pkg/a.txt', data: 'hello' }]);
      makeArchive(bad, [{ name: '../escape.txt', data: 'x' }]);
      // A process of its own, as the executors run it (the TypeScript hook loaded, so the worker can load it too).
      const script = `
        const { extractArchiveInWorker } = require(${JSON.stringify(path.join(__dirname, 'worker.ts'))});
        const { isMainThread } = require('node:worker_threads');
        (async () => {
          const hashes = new Map();
          await extractArchiveInWorker(${JSON.stringify(good)}, ${JSON.stringify(path.join(dir, 'out'))}, undefined, { hashes });
          const refused = await extractArchiveInWorker(${JSON.stringify(bad)}, ${JSON.stringify(path.join(dir, 'out-bad'))}).then(() => 'extracted', (e) => e.name + ': ' + e.message + ' | ' + e.hint);
          console.log(JSON.stringify({ hashes: [...hashes].map(([p, h]) => [require('node:path').relative(${JSON.stringify(dir)}, p), h]), refused, isMainThread }));
        })();`;
      const out = JSON.parse(execFileSync(process.execPath, ['-r', path.resolve(__dirname, '../../../nx-plugin/bin/register.js'), '-e', script], { encoding: 'utf8' }));
      expect(out.hashes).toEqual([['out/pkg/a.txt', createHash('sha256').update('hello').digest('hex')]]);
      expect(out.refused).toMatch(/^PydepotError: refusing to extract .*bad\.tar\.gz: entry "\.\.\/escape\.txt" contains "\.\." \| the archive is damaged or hostile/);
      expect(existsSync(path.join(dir, 'escape.txt'))).toBe(false);
    } finally {
      cleanup();
    }
  });
});
