import { closeSync, createReadStream, fchmodSync, mkdirSync, openSync, promises as fs, rmSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { Readable, Writable } from 'node:stream';
import * as zlib from 'node:zlib';
// tar and yauzl load when an archive is extracted, not with every module that imports this one.
import type { ReadEntry } from 'tar';
import type * as Yauzl from 'yauzl';
import { createHash } from 'node:crypto';
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
 * What an archive may expand to. A CPython distribution is ~3.5k entries and
 * ~4-5× its compressed size (25k entries and 150 MB with its tests), so
 * these stop a bomb long before it hurts: by entry count, and by bytes
 * written, at `maxRatio` × the archive's size (at least `ratioFloor`, at most
 * `maxBytes`). Extraction streams: memory stays bounded (a few MB of buffers)
 * whatever the archive claims.
 */
export interface ExtractLimits {
  maxEntries: number;
  maxBytes: number;
  maxRatio: number;
  ratioFloor: number;
}

export const EXTRACT_LIMITS: ExtractLimits = { maxEntries: 200_000, maxBytes: 16 * 2 ** 30, maxRatio: 200, ratioFloor: 256 * 2 ** 20 };

/**
 * Extract an archive into `dest` (created; must not exist) without ever
 * writing outside it. Parsing is node-tar's and yauzl's (maintained,
 * hardened readers); what may be written is decided here, entry by entry:
 * entries with absolute paths, `..` or backslash traversal, devices and
 * fifos, hard links to anything but a file extracted before, and symlinks
 * that lead outside `dest` (lexically, or once resolved for real through a
 * chain of in-tree links) are refused with the entry's name. Symlinks are
 * created after every file and folder, so no write passes through one.
 */
export async function extractArchive(archive: string, dest: string, limits: ExtractLimits = EXTRACT_LIMITS, options: { hashes?: Map<string, string> } = {}): Promise<void> {
  const format = archiveFormat(archive);
  const size = (await fs.stat(archive)).size;
  await fs.mkdir(dest, { recursive: false });
  const budget = Math.min(limits.maxBytes, Math.max(limits.ratioFloor, limits.maxRatio * size));
  const writer = new SafeWriter(dest, archive, { maxEntries: limits.maxEntries, budget }, options.hashes);
  try {
    if (format === 'zip') await extractZip(archive, writer);
    else if (format === 'tar') await extractTar(createReadStream(archive, { highWaterMark: STREAM_CHUNK }), writer);
    else if (format === 'tar.gz') await extractTar(createReadStream(archive, { highWaterMark: STREAM_CHUNK }).pipe(zlib.createGunzip({ chunkSize: STREAM_CHUNK })), writer);
    else {
      const zstd = runStreaming('zstd', ['-dcq', archive], {
        failure: `cannot decompress ${archive}`,
        hint: 'install zstd (Debian: apt-get install zstd) or use a .tar.gz archive',
      });
      await Promise.all([extractTar(zstd.stdout, writer), zstd.done]);
    }
    await writer.finish();
  } catch (error) {
    if (error instanceof PydepotError) throw error;
    throw new PydepotError(`${archive} is not a valid ${format} archive (truncated or corrupt: ${(error as Error).message})`, {
      path: archive,
      hint: 'download it again, or check that the file is what its name says; nothing was written outside the target folder',
    });
  }
}

interface PendingLink {
  name: string;
  target: string;
}

class SafeWriter {
  private readonly symlinks: PendingLink[] = [];
  private readonly dirModes = new Map<string, number>();
  /** Files being written, by absolute path: a hard link waits for its target. */
  private readonly writing = new Map<string, Promise<void>>();
  private entries = 0;
  private written = 0;

  constructor(
    readonly root: string,
    readonly archive: string,
    readonly limits: { maxEntries: number; budget: number },
    /** When given: each regular file's sha256 as written, by absolute path (a caller that checks the tree reads nothing twice). */
    readonly hashes?: Map<string, string>,
  ) {}

  refuse(entry: string, why: string): never {
    throw new PydepotError(`refusing to extract ${this.archive}: entry "${entry}" ${why}`, {
      path: this.archive,
      hint: 'the archive is damaged or hostile; nothing was written outside the target folder',
    });
  }

  /** Count an entry; refuse an archive with more of them than any Python distribution has. */
  count(name: string): void {
    if (++this.entries > this.limits.maxEntries) this.refuse(name, `is entry number ${this.entries}: more than ${this.limits.maxEntries} entries (an entry-count bomb?)`);
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
    this.ensureDir(abs);
    this.dirModes.set(abs, (mode & 0o777) | 0o700);
  }

  /** Folders made so far: no path passes through a symlink before finish(), so each is made once. */
  private readonly made = new Set<string>();

  private ensureDir(abs: string): void {
    if (this.made.has(abs)) return;
    mkdirSync(abs, { recursive: true });
    for (let d = abs; d.length > this.root.length && !this.made.has(d); d = path.dirname(d)) this.made.add(d);
  }

  /** Count bytes against the entry's declared size and the archive's budget. */
  private account(name: string, bytes: number, total: number, declared: number | undefined): void {
    this.written += bytes;
    if (declared !== undefined && total > declared) this.refuse(name, `holds more data than its header declares (${declared} bytes)`);
    if (this.written > this.limits.budget) this.refuse(name, `would expand the archive past ${Math.round(this.limits.budget / 2 ** 20)} MiB (a decompression bomb?)`);
  }

  /**
   * A small file whose bytes are all here, written at once with synchronous
   * calls (thousands of small entries cost more in thread-pool round trips
   * than in writing): the same rules as file(), created exclusively, 0600
   * until its bytes are in.
   */
  smallFile(name: string, mode: number, data: Buffer, declared?: number): void {
    const abs = this.resolve(name);
    if (abs === this.root) this.refuse(name, 'is not a file name');
    this.account(name, data.length, data.length, declared);
    this.claim(abs);
    this.ensureDir(path.dirname(abs));
    let fd: number;
    try {
      fd = openSync(abs, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // An entry again (a later one replaces it); never a symlink: those are made last.
      rmSync(abs, { force: true });
      fd = openSync(abs, 'wx', 0o600);
    }
    try {
      for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
      fchmodSync(fd, (mode & 0o777) | 0o600);
    } finally {
      closeSync(fd);
    }
    this.record(abs, createHash('sha256').update(data).digest('hex'));
  }

  /** Paths written more than once (an entry again): their hash is left to whoever reads the tree. */
  private readonly claimed = new Set<string>();
  private readonly rewritten = new Set<string>();

  private claim(abs: string): void {
    if (this.claimed.has(abs)) {
      this.rewritten.add(abs);
      this.hashes?.delete(abs);
    } else this.claimed.add(abs);
  }

  private record(abs: string, sha256: string): void {
    if (!this.rewritten.has(abs)) this.hashes?.set(abs, sha256);
  }

  /**
   * A writable stream into a new file: created exclusively (never through an
   * existing entry), with the bytes counted against the archive's budget and
   * the entry's declared size.
   */
  file(name: string, mode: number, declared?: number): Writable {
    const abs = this.resolve(name);
    if (abs === this.root) this.refuse(name, 'is not a file name');
    let handle: fs.FileHandle | undefined;
    let bytes = 0;
    this.claim(abs);
    const hash = this.hashes && createHash('sha256');
    const opened = (async () => {
      await fs.mkdir(path.dirname(abs), { recursive: true });
      await fs.rm(abs, { force: true });
      handle = await fs.open(abs, 'wx', 0o600);
    })();
    let finished!: (error?: unknown) => void;
    const done = new Promise<void>((resolve, reject) => (finished = (error) => (error ? reject(error) : resolve())));
    done.catch(() => undefined);
    this.writing.set(abs, done);
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        bytes += chunk.length;
        try {
          this.account(name, chunk.length, bytes, declared);
        } catch (error) {
          return callback(error as Error);
        }
        hash?.update(chunk);
        opened.then(() => handle!.write(chunk)).then(() => callback(), callback);
      },
      final: (callback) => {
        opened
          .then(async () => {
            await handle!.close();
            await fs.chmod(abs, (mode & 0o777) | 0o600);
            if (hash) this.record(abs, hash.digest('hex'));
          })
          .then(() => {
            finished();
            callback();
          }, callback);
      },
      destroy: (error, callback) => {
        finished(error ?? new Error('cancelled'));
        opened.then(() => handle?.close()).then(() => callback(error), () => callback(error));
      },
    });
  }

  async hardlink(name: string, target: string): Promise<void> {
    const abs = this.resolve(name);
    const from = this.resolve(target);
    await this.writing.get(from)?.catch(() => undefined);
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

  /**
   * Create the symlinks, one at a time, each only where its folder really is
   * inside the root, and check where it leads once it exists: links that are
   * each lexically inside can still chain outside (`a/up -> ..`, `a/out ->
   * up/..`), and a later link must not be created through an earlier one.
   */
  async finish(): Promise<void> {
    await Promise.all([...this.writing.values()]);
    const realRoot = await fs.realpath(this.root);
    const created: Array<{ link: PendingLink; abs: string }> = [];
    const escapes = async (abs: string) => {
      const real = await fs.realpath(abs).catch(() => undefined);
      return real !== undefined && !isInside(realRoot, real);
    };
    for (const link of this.symlinks) {
      const abs = this.resolve(link.name);
      await fs.mkdir(path.dirname(abs), { recursive: true }).catch(() => undefined);
      const parentReal = await fs.realpath(path.dirname(abs)).catch(() => undefined);
      if (parentReal === undefined || !isInside(realRoot, parentReal)) this.refuse(link.name, 'lies under a symlink that leads outside the target folder');
      try {
        await fs.symlink(link.target, abs);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') this.refuse(link.name, 'is a symlink over an existing entry');
        throw error;
      }
      if (await escapes(abs)) {
        await fs.rm(abs, { force: true });
        this.refuse(link.name, `is a symlink that resolves outside the target folder (${link.target})`);
      }
      created.push({ link, abs });
    }
    // A link created dangling may lead outside once the links after it exist.
    for (const { link, abs } of created) {
      if (await escapes(abs)) {
        await Promise.all(created.map((c) => fs.rm(c.abs, { force: true })));
        this.refuse(link.name, `is a symlink that resolves outside the target folder (${link.target})`);
      }
    }
    for (const [dir, mode] of [...this.dirModes].sort((a, b) => b[0].length - a[0].length)) await fs.chmod(dir, mode);
  }
}

export function isInside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

// ---- tar (node-tar's parser: ustar, GNU, pax) ----

/** Reads and inflation in chunks of this (the defaults, 64 and 16 KiB, cost a callback per few files). */
const STREAM_CHUNK = 1 << 20;

/** Files up to this size are gathered and written at once (SafeWriter.smallFile); bigger ones stream. */
const SMALL_FILE = 1 << 20;

async function extractTar(input: Readable, writer: SafeWriter): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Parser } = require('tar') as typeof import('tar');
  const parser = new Parser({ strict: true, maxMetaEntrySize: 1 << 20 });
  const work: Promise<void>[] = [];
  let failure: unknown;
  const fail = (error: unknown) => {
    failure ??= error;
    input.destroy();
    parser.abort(error instanceof Error ? error : new Error(String(error)));
  };
  parser.on('entry', (entry: ReadEntry) => {
    try {
      writer.count(entry.path);
      switch (entry.type) {
        case 'File':
        case 'OldFile':
        case 'ContiguousFile': {
          if (entry.size !== undefined && entry.size <= SMALL_FILE) {
            // Gathered, then written at once when the entry ends (its header's size bounds the memory).
            const chunks: Buffer[] = [];
            let gathered = 0;
            entry.on('data', (chunk: Buffer) => {
              gathered += chunk.length;
              if (gathered <= SMALL_FILE) chunks.push(chunk);
              else {
                try {
                  writer.refuse(entry.path, `holds more data than its header declares (${entry.size} bytes)`);
                } catch (error) {
                  fail(error);
                }
              }
            });
            entry.on('end', () => {
              try {
                if (!failure) writer.smallFile(entry.path, entry.mode ?? 0o644, Buffer.concat(chunks, Math.min(gathered, SMALL_FILE)), entry.size);
              } catch (error) {
                fail(error);
              }
            });
            return;
          }
          const sink = writer.file(entry.path, entry.mode ?? 0o644, entry.size);
          work.push(
            new Promise<void>((resolve, reject) => {
              sink.on('finish', resolve);
              sink.on('error', reject);
            }).catch(fail),
          );
          entry.pipe(sink);
          return;
        }
        case 'Directory':
          work.push(writer.dir(entry.path, entry.mode ?? 0o755).catch(fail));
          break;
        case 'SymbolicLink':
          writer.symlink(entry.path, entry.linkpath ?? '');
          break;
        case 'Link':
          work.push(writer.hardlink(entry.path, entry.linkpath ?? '').catch(fail));
          break;
        default:
          writer.refuse(entry.path, `has unsupported tar type "${entry.type}" (device, fifo or unknown)`);
      }
      entry.resume();
    } catch (error) {
      entry.resume();
      fail(error);
    }
  });
  await new Promise<void>((resolve, reject) => {
    parser.on('error', (error: Error) => reject(failure ?? error));
    parser.on('abort', (error: Error) => reject(failure ?? error));
    parser.on('end', () => resolve());
    input.on('error', (error) => reject(failure ?? error));
    input.pipe(parser);
  });
  await Promise.all(work);
  if (failure) throw failure;
}

// ---- zip (yauzl: streaming, zip64, validated sizes and names) ----

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

async function extractZip(archive: string, writer: SafeWriter): Promise<void> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const yauzl = require('yauzl') as typeof Yauzl;
  const zip = await new Promise<Yauzl.ZipFile>((resolve, reject) =>
    yauzl.open(archive, { lazyEntries: true, autoClose: true, validateEntrySizes: true, decodeStrings: true }, (error, file) => (error ? reject(error) : resolve(file!))),
  );
  try {
    await new Promise<void>((resolve, reject) => {
      const refuse = (error: unknown) => {
        zip.close();
        reject(error);
      };
      zip.on('error', (error: Error) => {
        // yauzl validates names before an entry reaches us: say it in our words, naming the entry.
        const named = /^(absolute path|invalid relative path|invalid characters in fileName): (.*)$/.exec(error.message);
        if (!named) return refuse(error);
        const why = { 'absolute path': 'has an absolute path', 'invalid relative path': 'contains ".."', 'invalid characters in fileName': 'has characters no file name may hold (a backslash?)' }[named[1]]!;
        try {
          writer.refuse(named[2], why);
        } catch (refusal) {
          refuse(refusal);
        }
      });
      zip.on('end', () => resolve());
      zip.on('entry', (entry: Yauzl.Entry) => {
        handleZipEntry(zip, entry, writer).then(() => zip.readEntry(), refuse);
      });
      zip.readEntry();
    });
  } finally {
    zip.close();
  }
}

async function handleZipEntry(zip: Yauzl.ZipFile, entry: Yauzl.Entry, writer: SafeWriter): Promise<void> {
  const name = entry.fileName;
  writer.count(name);
  const unixMode = entry.versionMadeBy >> 8 === 3 ? entry.externalFileAttributes >>> 16 : 0;
  if (name.endsWith('/')) return writer.dir(name, unixMode & 0o777 || 0o755);
  const stream = await new Promise<Readable>((resolve, reject) => zip.openReadStream(entry, (error, s) => (error ? reject(error) : resolve(s!))));
  if ((unixMode & S_IFMT) === S_IFLNK) {
    if (entry.uncompressedSize > 4096) writer.refuse(name, 'is a symlink with an oversized target');
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    writer.symlink(name, Buffer.concat(chunks).toString('utf8'));
    return;
  }
  const sink = writer.file(name, unixMode & 0o777 || 0o644, entry.uncompressedSize);
  await new Promise<void>((resolve, reject) => {
    stream.on('error', reject);
    sink.on('error', reject);
    sink.on('finish', resolve);
    stream.pipe(sink);
  });
}
