import { createReadStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { PydepotError } from '../errors';
import { runStreaming } from '../process/run';

export type ArchiveFormat = 'tar' | 'tar.gz' | 'tar.zst' | 'zip';

export function archiveFormat(file: string): ArchiveFormat {
  const name = file.toLowerCase().replace(/[?#].*$/, '');
  if (name.endsWith('.tar.gz') || name.endsWith('.tgz')) return 'tar.gz';
  if (name.endsWith('.tar.zst') || name.endsWith('.tar.zstd') || name.endsWith('.tzst')) return 'tar.zst';
  if (name.endsWith('.zip') || name.endsWith('.whl') || name.endsWith('.nupkg')) return 'zip';
  if (name.endsWith('.tar')) return 'tar';
  throw new PydepotError(`unsupported archive type: ${file}`, {
    path: file,
    hint: 'use a .tar.gz, .tar.zst, .tar or .zip archive',
  });
}

/**
 * Extract an archive into `dest` (created; must not exist) without ever
 * writing outside it. Entries with absolute paths or `..`, and links that
 * lead outside `dest`, are refused with the entry's name. Symlinks are
 * created after every file, so no write can pass through one, then each is
 * checked by resolving it for real (a chain of in-tree links can still escape).
 */
export async function extractArchive(archive: string, dest: string): Promise<void> {
  await fs.mkdir(dest, { recursive: false });
  const writer = new SafeWriter(dest, archive);
  const format = archiveFormat(archive);
  if (format === 'zip') await extractZip(archive, writer);
  else if (format === 'tar') await extractTar(createReadStream(archive), writer);
  else if (format === 'tar.gz') await extractTar(createReadStream(archive).pipe(zlib.createGunzip()), writer);
  else {
    const zstd = runStreaming('zstd', ['-dcq', archive], {
      failure: `cannot decompress ${archive}`,
      hint: 'install zstd (Debian: apt-get install zstd) or use a .tar.gz archive',
    });
    await Promise.all([extractTar(zstd.stdout, writer), zstd.done]);
  }
  await writer.finish();
}

interface PendingLink {
  name: string;
  target: string;
}

class SafeWriter {
  private readonly symlinks: PendingLink[] = [];
  private readonly dirModes = new Map<string, number>();

  constructor(
    readonly root: string,
    readonly archive: string,
  ) {}

  refuse(entry: string, why: string): never {
    throw new PydepotError(`refusing to extract ${this.archive}: entry "${entry}" ${why}`, {
      path: this.archive,
      hint: 'the archive is damaged or hostile; nothing was written outside the target folder',
    });
  }

  /** Validate an entry name and return its absolute path inside the root. */
  resolve(name: string): string {
    const clean = name.replace(/\\/g, '/');
    if (clean.startsWith('/') || /^[a-zA-Z]:/.test(clean)) this.refuse(name, 'has an absolute path');
    const parts = clean.split('/').filter((p) => p !== '' && p !== '.');
    if (parts.includes('..')) this.refuse(name, 'contains ".."');
    if (parts.length === 0) return this.root;
    return path.join(this.root, ...parts);
  }

  async dir(name: string, mode = 0o755): Promise<void> {
    const abs = this.resolve(name);
    await fs.mkdir(abs, { recursive: true });
    this.dirModes.set(abs, mode | 0o700);
  }

  async file(name: string, mode: number, data: AsyncIterable<Buffer> | Buffer): Promise<void> {
    const abs = this.resolve(name);
    if (abs === this.root) this.refuse(name, 'is not a file name');
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.rm(abs, { force: true });
    const handle = await fs.open(abs, 'wx', (mode & 0o777) | 0o600);
    try {
      if (Buffer.isBuffer(data)) await handle.write(data);
      else for await (const chunk of data) await handle.write(chunk);
    } finally {
      await handle.close();
    }
    await fs.chmod(abs, (mode & 0o777) | 0o600);
  }

  async hardlink(name: string, target: string): Promise<void> {
    const abs = this.resolve(name);
    const from = this.resolve(target);
    const st = await fs.lstat(from).catch(() => undefined);
    if (!st?.isFile()) this.refuse(name, `is a hard link to "${target}", which is not a file extracted before it`);
    await fs.mkdir(path.dirname(abs), { recursive: true });
    await fs.rm(abs, { force: true });
    await fs.link(from, abs);
  }

  symlink(name: string, target: string): void {
    const abs = this.resolve(name);
    if (path.isAbsolute(target) || /^[a-zA-Z]:[\\/]/.test(target) || target.startsWith('\\')) {
      this.refuse(name, `is a symlink to the absolute path "${target}"`);
    }
    const lexical = path.resolve(path.dirname(abs), target);
    if (!isInside(this.root, lexical)) this.refuse(name, `is a symlink to "${target}", outside the target folder`);
    this.symlinks.push({ name, target });
  }

  async finish(): Promise<void> {
    for (const link of this.symlinks) {
      const abs = this.resolve(link.name);
      await fs.mkdir(path.dirname(abs), { recursive: true });
      try {
        await fs.symlink(link.target, abs);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') this.refuse(link.name, 'is a symlink over an existing entry');
        throw error;
      }
    }
    const realRoot = await fs.realpath(this.root);
    for (const link of this.symlinks) {
      const abs = this.resolve(link.name);
      const real = await fs.realpath(abs).catch(() => undefined);
      if (real !== undefined && !isInside(realRoot, real)) this.refuse(link.name, `is a symlink that resolves outside the target folder (${link.target})`);
      const parentReal = await fs.realpath(path.dirname(abs));
      if (!isInside(realRoot, parentReal)) this.refuse(link.name, 'lies under a symlink that leads outside the target folder');
    }
    for (const [dir, mode] of [...this.dirModes].sort((a, b) => b[0].length - a[0].length)) await fs.chmod(dir, mode);
  }
}

export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

// ---- tar (ustar, GNU long names, pax) ----

async function extractTar(stream: Readable, writer: SafeWriter): Promise<void> {
  const reader = new ByteReader(stream);
  let longName: string | undefined;
  let longLink: string | undefined;
  let pax: Record<string, string> = {};
  for (;;) {
    const header = await reader.read(512);
    if (!header || header.every((b) => b === 0)) break;
    verifyChecksum(header, writer.archive);
    const type = String.fromCharCode(header[156] || 48);
    const size = readNumber(header.subarray(124, 136));
    const padded = Math.ceil(size / 512) * 512;
    const prefix = cstring(header.subarray(345, 500));
    const ustar = cstring(header.subarray(257, 263)).startsWith('ustar');
    let name = pax.path ?? longName ?? (ustar && prefix ? `${prefix}/${cstring(header.subarray(0, 100))}` : cstring(header.subarray(0, 100)));
    const linkName = pax.linkpath ?? longLink ?? cstring(header.subarray(157, 257));
    const mode = readNumber(header.subarray(100, 108));
    if (type === 'L' || type === 'K' || type === 'x' || type === 'g') {
      const body = (await reader.read(padded)) ?? Buffer.alloc(0);
      const text = body.subarray(0, size).toString('utf8');
      if (type === 'L') longName = text.replace(/\0.*$/s, '');
      else if (type === 'K') longLink = text.replace(/\0.*$/s, '');
      else if (type === 'x') pax = { ...pax, ...parsePax(text) };
      continue;
    }
    longName = longLink = undefined;
    pax = {};
    name = name.replace(/\/+$/, (m) => (type === '5' ? '' : m));
    if (type === '0' || type === '\0' || type === '7') {
      await writer.file(name, mode, reader.stream(size));
      await reader.skip(padded - size);
    } else {
      await reader.skip(padded);
      if (type === '5') await writer.dir(name, mode);
      else if (type === '2') writer.symlink(name, linkName);
      else if (type === '1') await writer.hardlink(name, linkName);
      else writer.refuse(name, `has unsupported tar type "${type}" (device, fifo or unknown)`);
    }
  }
}

function verifyChecksum(header: Buffer, archive: string): void {
  const stored = readNumber(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i];
  if (sum !== stored) {
    throw new PydepotError(`${archive} is not a valid tar archive (header checksum mismatch)`, {
      path: archive,
      hint: 'the download may be truncated or the file is not what its name says',
    });
  }
}

function readNumber(field: Buffer): number {
  if (field[0] & 0x80) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i];
    return n;
  }
  const text = cstring(field).trim();
  return text ? parseInt(text, 8) : 0;
}

function cstring(buf: Buffer): string {
  const end = buf.indexOf(0);
  return buf.subarray(0, end === -1 ? buf.length : end).toString('utf8');
}

function parsePax(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = Buffer.from(text, 'utf8');
  while (rest.length > 0) {
    const space = rest.indexOf(32);
    if (space <= 0) break;
    const len = parseInt(rest.subarray(0, space).toString(), 10);
    if (!len) break;
    const record = rest.subarray(space + 1, len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    rest = rest.subarray(len);
  }
  return out;
}

/** Pull-style reads over a byte stream, so the tar parser can ask for exact sizes. */
class ByteReader {
  private readonly iterator: AsyncIterator<Buffer>;
  private buffered: Buffer[] = [];
  private length = 0;
  private ended = false;

  constructor(stream: Readable) {
    this.iterator = stream[Symbol.asyncIterator]();
  }

  private async fill(n: number): Promise<boolean> {
    while (this.length < n && !this.ended) {
      const { value, done } = await this.iterator.next();
      if (done) this.ended = true;
      else {
        this.buffered.push(value);
        this.length += value.length;
      }
    }
    return this.length >= n;
  }

  private take(n: number): Buffer {
    const all = this.buffered.length === 1 ? this.buffered[0] : Buffer.concat(this.buffered);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.buffered = rest.length ? [rest] : [];
    this.length = rest.length;
    return out;
  }

  async read(n: number): Promise<Buffer | undefined> {
    if (n === 0) return Buffer.alloc(0);
    if (!(await this.fill(n))) {
      if (this.length === 0) return undefined;
      throw new PydepotError('archive ends in the middle of an entry (truncated download?)', { hint: 'download the archive again' });
    }
    return this.take(n);
  }

  async skip(n: number): Promise<void> {
    if (n > 0) await this.read(n);
  }

  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.length === 0 && !(await this.fill(1))) {
        throw new PydepotError('archive ends in the middle of a file (truncated download?)', { hint: 'download the archive again' });
      }
      const chunk = this.take(Math.min(left, this.length));
      left -= chunk.length;
      yield chunk;
    }
  }
}

// ---- zip (stored and deflated; no zip64) ----

async function extractZip(archive: string, writer: SafeWriter): Promise<void> {
  const data = await fs.readFile(archive);
  const bad = (why: string) =>
    new PydepotError(`${archive} is not a valid zip archive (${why})`, { path: archive, hint: 'the download may be truncated' });
  let eocd = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 0xffff); i--) {
    if (data.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw bad('no end-of-central-directory record');
  const count = data.readUInt16LE(eocd + 10);
  let offset = data.readUInt32LE(eocd + 16);
  if (offset === 0xffffffff) throw bad('zip64 archives are not supported');
  for (let n = 0; n < count; n++) {
    if (offset + 46 > data.length || data.readUInt32LE(offset) !== 0x02014b50) throw bad('damaged central directory');
    const madeBy = data.readUInt16LE(offset + 4) >> 8;
    const method = data.readUInt16LE(offset + 10);
    const compSize = data.readUInt32LE(offset + 20);
    const size = data.readUInt32LE(offset + 24);
    const nameLen = data.readUInt16LE(offset + 28);
    const extraLen = data.readUInt16LE(offset + 30);
    const commentLen = data.readUInt16LE(offset + 32);
    const external = data.readUInt32LE(offset + 38);
    const local = data.readUInt32LE(offset + 42);
    const name = data.subarray(offset + 46, offset + 46 + nameLen).toString('utf8');
    offset += 46 + nameLen + extraLen + commentLen;
    if (local + 30 > data.length || data.readUInt32LE(local) !== 0x04034b50) throw bad(`damaged local header for "${name}"`);
    const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
    if (start + compSize > data.length) throw bad(`"${name}" is cut short`);
    const raw = data.subarray(start, start + compSize);
    const unixMode = madeBy === 3 ? external >>> 16 : 0;
    const isDir = name.endsWith('/') || name.endsWith('\\');
    if (isDir) {
      await writer.dir(name, unixMode & 0o777 || 0o755);
      continue;
    }
    const content = method === 0 ? raw : method === 8 ? zlib.inflateRawSync(raw) : writer.refuse(name, `uses unsupported compression method ${method}`);
    if (content.length !== size) throw bad(`"${name}" has the wrong size`);
    if ((unixMode & 0o170000) === 0o120000) writer.symlink(name, content.toString('utf8'));
    else await writer.file(name, unixMode & 0o777 || 0o644, content);
  }
}
