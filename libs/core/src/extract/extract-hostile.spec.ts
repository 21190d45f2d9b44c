import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { python, testdir } from '../../../../tools/testing';
import { EXTRACT_LIMITS, extractArchive } from './extract';

jest.setTimeout(120_000);

/**
 * A hostile corpus: archives written to hurt, made with Python's tarfile and
 * zipfile (which write whatever they are told). Each must be refused with a
 * message naming the entry (or the archive, when it is not one), and nothing
 * may appear outside the target folder.
 */
type Entry = { name: string; type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'chr' | 'fifo'; data?: string; zeros?: number; target?: string };

function makeArchive(file: string, entries: Entry[]): void {
  python(
    `
import io, json, sys, tarfile, zipfile
out, entries = sys.argv[1], json.loads(sys.argv[2])
class Zeros(io.RawIOBase):
    def __init__(self, n): self.left = n
    def readable(self): return True
    def readinto(self, b):
        n = min(len(b), self.left); b[:n] = bytes(n); self.left -= n; return n
if out.endswith('.zip'):
    with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED) as z:
        for e in entries:
            info = zipfile.ZipInfo(e['name'])
            info.create_system = 3
            info.compress_type = zipfile.ZIP_DEFLATED
            t = e.get('type', 'file')
            info.external_attr = ((0o120000 if t == 'symlink' else 0o100000) | 0o644) << 16
            if e.get('zeros'):
                with z.open(info, 'w', force_zip64=True) as w:
                    chunk = bytes(1 << 20)
                    for _ in range(e['zeros'] >> 20): w.write(chunk)
            else:
                z.writestr(info, e.get('target') if t == 'symlink' else e.get('data', ''))
else:
    mode = 'w:gz' if out.endswith('.gz') else 'w'
    with tarfile.open(out, mode, format=tarfile.GNU_FORMAT) as t:
        for e in entries:
            info = tarfile.TarInfo(e['name'])
            kind = e.get('type', 'file')
            info.mode = 0o644
            data = e.get('data', '').encode()
            src = None
            if kind == 'dir': info.type = tarfile.DIRTYPE
            elif kind == 'symlink': info.type, info.linkname = tarfile.SYMTYPE, e['target']
            elif kind == 'hardlink': info.type, info.linkname = tarfile.LNKTYPE, e['target']
            elif kind == 'chr': info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
            elif kind == 'fifo': info.type = tarfile.FIFOTYPE
            elif e.get('zeros'): info.size, src = e['zeros'], io.BufferedReader(Zeros(e['zeros']))
            else: info.size, src = len(data), io.BytesIO(data)
            t.addfile(info, src)
`,
    [file, JSON.stringify(entries)],
  );
}

const many = (n: number): Entry[] => Array.from({ length: n }, (_, i) => ({ name: `f/${i}` }));

/** [what, archive name, entries, expected message, limits] */
const CORPUS: Array<[string, string, Entry[], RegExp, Partial<typeof EXTRACT_LIMITS>?]> = [
  ['an absolute path', 'abs.tar.gz', [{ name: '/tmp/pydepot-hostile-abs.txt', data: 'x' }], /entry "\/tmp\/pydepot-hostile-abs\.txt" has an absolute path/],
  ['a ../ path', 'dotdot.tar.gz', [{ name: 'a/../../evil.txt', data: 'x' }], /entry "a\/\.\.\/\.\.\/evil\.txt" contains "\.\."/],
  ['a backslash traversal (tar)', 'backslash.tar.gz', [{ name: '..\\evil.txt', data: 'x' }], /entry "\.\.\\evil\.txt" contains "\.\."/],
  ['a backslash traversal (zip)', 'backslash.zip', [{ name: '..\\evil.txt', data: 'x' }], /entry "\.\.\\evil\.txt"|entry "\.\.\/evil\.txt"/],
  ['a ../ path (zip)', 'dotdot.zip', [{ name: '../evil.txt', data: 'x' }], /entry "\.\.\/evil\.txt" contains "\.\."/],
  ['an absolute path (zip)', 'abs.zip', [{ name: '/tmp/pydepot-hostile-abs.txt', data: 'x' }], /entry "\/tmp\/pydepot-hostile-abs\.txt" has an absolute path/],
  ['an absolute symlink', 'abslink.tar.gz', [{ name: 'etc', type: 'symlink', target: '/etc' }], /entry "etc" is a symlink to the absolute path "\/etc"/],
  ['an escaping symlink (zip)', 'esclink.zip', [{ name: 'up', type: 'symlink', target: '../..' }], /entry "up" is a symlink to "\.\.\/\.\.", outside the target folder/],
  [
    'a chain of in-tree links that resolves outside, then a link under it',
    'chain.tar.gz',
    [
      { name: 'd/', type: 'dir' },
      { name: 'd/up', type: 'symlink', target: '..' },
      { name: 'd/up2', type: 'symlink', target: 'up/..' },
      { name: 'd/up2/planted', type: 'symlink', target: 'x' },
    ],
    /entry "d\/up2" is a symlink that resolves outside the target folder \(up\/\.\.\)/,
  ],
  [
    'a file written through a link chain',
    'chainfile.tar.gz',
    [
      { name: 'd/up', type: 'symlink', target: '..' },
      { name: 'd/up2', type: 'symlink', target: 'up/..' },
      { name: 'd/up2/evil.txt', data: 'x' },
    ],
    /entry "d\/up2" is a symlink over an existing entry/,
  ],
  ['a hard link out of the tree', 'hardout.tar.gz', [{ name: 'hl', type: 'hardlink', target: '../../etc/passwd' }], /entry "hl" contains "\.\."|entry "\.\.\/\.\.\/etc\/passwd" contains/],
  ['a hard link to an absolute path', 'hardabs.tar.gz', [{ name: 'hl', type: 'hardlink', target: '/etc/passwd' }], /has an absolute path/],
  ['a hard link to a symlink', 'hardsym.tar.gz', [{ name: 's', type: 'symlink', target: 'x' }, { name: 'hl', type: 'hardlink', target: 's' }], /entry "hl" is a hard link to "s", which is not a file extracted before it/],
  ['a character device', 'chr.tar', [{ name: 'dev/null', type: 'chr' }], /entry "dev\/null" has unsupported tar type "CharacterDevice"/],
  ['a fifo', 'fifo.tar', [{ name: 'pipe', type: 'fifo' }], /entry "pipe" has unsupported tar type "FIFO"/],
  ['a bomb by ratio (tar.gz)', 'ratio.tar.gz', [{ name: 'zeros.bin', zeros: 64 << 20 }], /entry "zeros\.bin" would expand the archive past 1 MiB \(a decompression bomb\?\)/, { maxRatio: 5, ratioFloor: 1 << 20 }],
  ['a bomb by entry count (tar)', 'count.tar', many(60), /entry "f\/50" is entry number 51: more than 50 entries/, { maxEntries: 50 }],
  ['a bomb by entry count (zip)', 'count.zip', many(60), /entry "f\/50" is entry number 51: more than 50 entries/, { maxEntries: 50 }],
];

describe('extractArchive: the hostile corpus', () => {
  const { dir, cleanup } = testdir({}, 'pydepot-hostile-');
  afterAll(cleanup);

  // A rest parameter: a fifth named one would make Jest pass a done() callback to rows of four.
  it.each(CORPUS)('refuses %s, naming the entry, with nothing written outside', async (...row) => {
    const [, file, entries, message, limits] = row;
    const base = path.join(dir, file.replace(/\W/g, '-'));
    mkdirSync(path.join(base, 'deep'), { recursive: true });
    const archive = path.join(base, file);
    makeArchive(archive, entries);
    const out = path.join(base, 'deep', 'out');
    await expect(extractArchive(archive, out, { ...EXTRACT_LIMITS, ...limits })).rejects.toThrow(message);
    // Nothing beside the target, nor in the archive's folder, nor in /tmp.
    expect(readdirSync(path.join(base, 'deep'))).toEqual(['out']);
    expect(readdirSync(base).sort()).toEqual(['deep', file].sort());
    expect(existsSync('/tmp/pydepot-hostile-abs.txt')).toBe(false);
  });

  it.each([
    ['a truncated tar', 'cut.tar', (data: Buffer) => data.subarray(0, 1024 + 300)],
    ['a truncated tar.gz', 'cut.tar.gz', (data: Buffer) => data.subarray(0, Math.floor(data.length / 2))],
    ['a corrupt zip', 'junk.zip', () => Buffer.from('PK\u0003\u0004 this is not really a zip archive at all '.repeat(20))],
    ['a gzip stream of garbage', 'junk.tar.gz', () => Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(600, 0x41)])],
  ])('says %s is truncated or corrupt, without a stack trace', async (_what, file, damage) => {
    const base = path.join(dir, `damaged-${file.replace(/\W/g, '-')}`);
    mkdirSync(base, { recursive: true });
    const archive = path.join(base, file);
    makeArchive(archive, [{ name: 'a.txt', data: 'a'.repeat(5000) }, { name: 'b.txt', data: 'b'.repeat(5000) }]);
    writeFileSync(archive, damage(execFileSync('cat', [archive])));
    const error = await extractArchive(archive, path.join(base, 'out')).catch((e: Error & { hint?: string }) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(new RegExp(`${file.replace(/\./g, '\\.')}.*(truncated|corrupt|not a valid)`, 'i'));
    expect((error as { hint?: string }).hint).toMatch(/download it again|damaged/);
  });

  it('stops a 1.5 MB zip that inflates to 1.5 GB at its budget, with memory bounded (< 128 MiB over the process peak before it)', () => {
    const base = path.join(dir, 'zip-bomb');
    mkdirSync(base, { recursive: true });
    const archive = path.join(base, 'bomb.zip');
    makeArchive(archive, [{ name: 'zeros.bin', zeros: 1536 << 20 }]);
    const size = execFileSync('stat', ['-c', '%s', archive]).toString().trim();
    expect(Number(size)).toBeLessThan(4 << 20);
    // In a process of its own, with the default limits, to measure its peak memory.
    const script = `
      const { extractArchive } = require(${JSON.stringify(path.join(__dirname, 'extract.ts'))});
      const baselineKiB = process.resourceUsage().maxRSS;
      extractArchive(${JSON.stringify(archive)}, ${JSON.stringify(path.join(base, 'out'))})
        .then(() => console.log(JSON.stringify({ ok: true })), (e) => console.log(JSON.stringify({ message: e.message, baselineKiB, maxRssKiB: process.resourceUsage().maxRSS })));
    `;
    const repo = path.resolve(__dirname, '../../../..');
    const report = JSON.parse(execFileSync('node', ['-r', '@swc-node/register', '-e', script], { cwd: repo, env: { ...process.env, SWC_NODE_PROJECT: path.join(repo, 'tsconfig.base.json') } }).toString().trim().split('\n').pop()!);
    // The budget: 200 × the archive's size (at least 256 MiB): a Python distribution expands ~5×.
    expect(report.message).toMatch(/entry "zeros\.bin" would expand the archive past \d+ MiB \(a decompression bomb\?\)/);
    // What the extraction adds to the process's peak. The peak before it is Node and the TypeScript loader compiling
    // the extractor (up to ~290 MiB measured on a fresh clone under load): not the extractor's to bound.
    expect(report.maxRssKiB - report.baselineKiB).toBeLessThan(128 * 1024);
  });
});
