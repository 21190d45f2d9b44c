import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { EnvironmentManifest } from '../environment/manifest';
import { PydepotError } from '../errors';
import { siblingTempPath, writeFileAtomic, writeJsonAtomic } from '../fs/atomic';
import { pathExists, sha256File, walkTree } from '../fs/tree';
import { run } from '../process/run';
import { checkpoint } from './faults';
import { readReleases, recordRelease, releaseFor } from './history';
import { acquirePublishLock } from './lock';
import { CURRENT_FILE } from './directory';
import { assertFinished, assertSelfContained, LocalTree, passGate, Publisher, PublishRequest, PublishResult, RollbackRequest } from './publisher';
import { extractArchive } from '../extract/extract';
import * as os from 'node:os';

export type ArchiveFormat = 'tar.zst' | 'zip';
export const ARCHIVE_FORMATS: ArchiveFormat[] = ['tar.zst', 'zip'];

/**
 * Publishes each version as archives for an artifact store:
 * `<depot>/<env>/<env>-<version>.tar.zst` and/or `.zip`, with a
 * `SHA256SUMS` beside them and `current.json` naming the current version and
 * its files. Archives are written beside their place and renamed in, and are
 * reproducible: sorted entries, fixed times and owners. The top folder inside
 * is `<env>/`, so an archive unpacks to a runnable `<env>/bin/python`.
 */
export class ArchivePublisher implements Publisher {
  readonly kind = 'archive';

  constructor(
    readonly depot: string,
    readonly formats: ArchiveFormat[] = ['tar.zst'],
  ) {}

  async publish(request: PublishRequest): Promise<PublishResult> {
    assertFinished(request);
    assertSelfContained(request, 'archive');
    const { manifest, log } = request;
    const envDir = path.join(this.depot, manifest.name);
    await fs.mkdir(envDir, { recursive: true });
    const lock = await acquirePublishLock(envDir, { log });
    try {
      let bytes = 0;
      const files: string[] = [];
      const written: string[] = [];
      for (const format of this.formats) {
        const file = path.join(envDir, `${manifest.name}-${manifest.version}.${format}`);
        files.push(path.basename(file));
        if (await pathExists(file)) continue;
        const tmp = siblingTempPath(file);
        try {
          log(`writing ${path.basename(file)}`);
          if (format === 'zip') await writeZip(request.buildPath, tmp, manifest.name);
          else await writeTarZst(request.buildPath, tmp, manifest.name);
          checkpoint(`archive ${format}`);
          await fs.rename(tmp, file);
          written.push(file);
          bytes += (await fs.stat(file)).size;
        } catch (error) {
          await fs.rm(tmp, { force: true });
          throw new PydepotError(`writing ${file} failed: ${(error as Error).message}; nothing was published`, {
            path: file,
            hint: (error as NodeJS.ErrnoException).code === 'ENOSPC' ? 'the depot is full' : 'check the depot and that tar and zstd are installed',
          });
        }
      }
      const current = await readCurrent(envDir);
      const currentChanged = current?.version !== manifest.version;
      if (currentChanged && request.gate) {
        // What users get is what an archive unpacks to: check that.
        const tree = await unpackVersion(path.join(envDir, files[0]), manifest.name);
        try {
          await passGate(request, tree.path, manifest.name, manifest.version, current?.version);
        } catch (error) {
          await Promise.all(written.map((f) => fs.rm(f, { force: true })));
          throw error;
        } finally {
          await tree.dispose();
        }
      }
      await writeSums(envDir);
      if (currentChanged) {
        await writeJsonAtomic(path.join(envDir, CURRENT_FILE), { version: manifest.version, files });
        await fs.writeFile(path.join(envDir, `${manifest.name}-${manifest.version}.json`), `${JSON.stringify(manifest, null, 2)}\n`);
        const previous = current ? await readArchivedManifest(envDir, manifest.name, current.version) : undefined;
        await recordRelease(envDir, releaseFor(manifest, previous, 'publish'), manifest.name);
      }
      return { version: manifest.version, location: path.join(envDir, files[0]), copied: bytes > 0, currentChanged, bytesWritten: bytes, filesLinked: 0, filesCopied: bytes > 0 ? files.length : 0, removed: [] };
    } finally {
      await lock.release();
    }
  }

  async checkout(name: string, version?: string): Promise<LocalTree> {
    const envDir = path.join(this.depot, name);
    const chosen = version ?? (await readCurrent(envDir))?.version;
    const file = chosen && this.formats.map((f) => path.join(envDir, `${name}-${chosen}.${f}`))[0];
    if (!chosen || !file || !(await pathExists(file))) {
      throw new PydepotError(`${name} ${version ? `version ${version} ` : ''}is not published in ${envDir}`, { path: envDir, hint: `run \`nx run ${name}:publish\` first` });
    }
    const tree = await unpackVersion(file, name);
    return { version: chosen, ...tree };
  }

  async rollback(request: RollbackRequest): Promise<PublishResult> {
    const envDir = path.join(this.depot, request.name);
    const releases = await readReleases(envDir);
    const current = await readCurrent(envDir);
    const target = request.to ?? releases.filter((r) => r.version !== current?.version).map((r) => r.version).pop();
    const files = this.formats.map((f) => `${request.name}-${target}.${f}`);
    if (!target || !(await Promise.all(files.map((f) => pathExists(path.join(envDir, f))))).every(Boolean)) {
      throw new PydepotError(`cannot roll ${request.name} back to ${target ?? '(no earlier version)'}: its archives are not in ${envDir}`, { path: envDir, hint: 'name a published version' });
    }
    if (current?.version === target) return { version: target, location: path.join(envDir, files[0]), copied: false, currentChanged: false, bytesWritten: 0, filesLinked: 0, filesCopied: 0, removed: [] };
    await writeJsonAtomic(path.join(envDir, CURRENT_FILE), { version: target, files });
    const manifest = await readArchivedManifest(envDir, request.name, target);
    if (manifest) await recordRelease(envDir, releaseFor(manifest, current && (await readArchivedManifest(envDir, request.name, current.version)), 'rollback'), request.name);
    return { version: target, location: path.join(envDir, files[0]), copied: false, currentChanged: true, bytesWritten: 0, filesLinked: 0, filesCopied: 0, removed: [] };
  }
}

/** An archive unpacked into a temp folder; `path` is its top folder `<env>/`. */
async function unpackVersion(archive: string, name: string): Promise<{ path: string; dispose(): Promise<void> }> {
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'pydepot-archive-checkout-'));
  const dispose = () => fs.rm(tmp, { recursive: true, force: true });
  try {
    await extractArchive(archive, path.join(tmp, 'x'));
    return { path: path.join(tmp, 'x', name), dispose };
  } catch (error) {
    await dispose();
    throw error;
  }
}

async function readCurrent(envDir: string): Promise<{ version: string } | undefined> {
  return fs.readFile(path.join(envDir, CURRENT_FILE), 'utf8').then((t) => JSON.parse(t) as { version: string }, () => undefined);
}

/** The manifest kept beside a version's archives. */
async function readArchivedManifest(envDir: string, name: string, version: string): Promise<EnvironmentManifest | undefined> {
  return fs.readFile(path.join(envDir, `${name}-${version}.json`), 'utf8').then((t) => JSON.parse(t) as EnvironmentManifest, () => undefined);
}

/** `SHA256SUMS` of every archive in the folder, in the format `sha256sum -c` reads. */
async function writeSums(envDir: string): Promise<void> {
  const names = (await fs.readdir(envDir)).filter((n) => ARCHIVE_FORMATS.some((f) => n.endsWith(`.${f}`))).sort();
  const lines = await Promise.all(names.map(async (n) => `${await sha256File(path.join(envDir, n))}  ${n}`));
  await writeFileAtomic(path.join(envDir, 'SHA256SUMS'), `${lines.join('\n')}\n`);
}

async function writeTarZst(root: string, file: string, top: string): Promise<void> {
  await run(
    'tar',
    [
      '--use-compress-program=zstd -q -T0 -3',
      '--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=2000-01-01 00:00:00Z',
      '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime',
      '-cf', file, '-C', path.dirname(root), `--transform=s,^${escapeSed(path.basename(root))},${top},`, path.basename(root),
    ],
    { failure: `cannot write ${file}`, hint: 'install GNU tar and zstd (Debian: apt-get install zstd)' },
  );
}

function escapeSed(s: string): string {
  return s.replace(/[.[\]*^$\\/,]/g, '\\$&');
}

/**
 * A zip of the tree under `top/`: deflated files with their Unix modes, and
 * symlinks as symlink entries (as Info-ZIP writes them), so unpacking on
 * POSIX restores `bin/python -> python3.X`. Times are fixed (1980-01-01).
 */
export async function writeZip(root: string, file: string, top: string): Promise<void> {
  const entries = await walkTree(root);
  const handle = await fs.open(file, 'w');
  const central: Buffer[] = [];
  let offset = 0;
  const write = async (buf: Buffer) => {
    await handle.write(buf);
    offset += buf.length;
  };
  try {
    for (const e of [{ rel: '', kind: 'dir' as const, mode: 0o755, size: 0 }, ...entries]) {
      const name = Buffer.from(e.kind === 'dir' ? `${top}/${e.rel ? `${e.rel}/` : ''}` : `${top}/${e.rel}`, 'utf8');
      const abs = path.join(root, e.rel);
      const raw = e.kind === 'file' ? await fs.readFile(abs) : e.kind === 'symlink' ? Buffer.from(await fs.readlink(abs)) : Buffer.alloc(0);
      const deflate = e.kind === 'file' && raw.length > 0;
      const data = deflate ? zlib.deflateRawSync(raw, { level: 6 }) : raw;
      const crc = crc32(raw);
      const unixMode = (e.kind === 'dir' ? 0o040000 : e.kind === 'symlink' ? 0o120000 : 0o100000) | (e.kind === 'symlink' ? 0o777 : e.mode);
      const local = Buffer.alloc(30);
      local.writeUInt32LE(0x04034b50, 0);
      local.writeUInt16LE(20, 4);
      local.writeUInt16LE(0x0800, 6); // UTF-8 names
      local.writeUInt16LE(deflate ? 8 : 0, 8);
      local.writeUInt16LE(0, 10); // 00:00
      local.writeUInt16LE(0x21, 12); // 1980-01-01
      local.writeUInt32LE(crc >>> 0, 14);
      local.writeUInt32LE(data.length, 18);
      local.writeUInt32LE(raw.length, 22);
      local.writeUInt16LE(name.length, 26);
      local.writeUInt16LE(0, 28);
      const at = offset;
      await write(Buffer.concat([local, name, data]));
      const cd = Buffer.alloc(46);
      cd.writeUInt32LE(0x02014b50, 0);
      cd.writeUInt16LE((3 << 8) | 20, 4); // made by Unix
      cd.writeUInt16LE(20, 6);
      local.copy(cd, 8, 6, 30);
      cd.writeUInt16LE(0, 30);
      cd.writeUInt16LE(0, 32);
      cd.writeUInt16LE(0, 34);
      cd.writeUInt16LE(0, 36);
      cd.writeUInt32LE(((unixMode << 16) | (e.kind === 'dir' ? 0x10 : 0)) >>> 0, 38);
      cd.writeUInt32LE(at, 42);
      central.push(cd, name);
    }
    const cdStart = offset;
    const cdData = Buffer.concat(central);
    await write(cdData);
    if (central.length / 2 > 0xffff || offset > 0xffffffff) throw new PydepotError(`${file}: more than 65535 entries or 4 GiB; zip64 is not supported`, { hint: 'publish as tar.zst instead' });
    const end = Buffer.alloc(22);
    end.writeUInt32LE(0x06054b50, 0);
    end.writeUInt16LE(central.length / 2, 8);
    end.writeUInt16LE(central.length / 2, 10);
    end.writeUInt32LE(cdData.length, 12);
    end.writeUInt32LE(cdStart, 16);
    await write(end);
  } finally {
    await handle.close();
  }
}

let crcTable: Int32Array | undefined;
function crc32(data: Buffer): number {
  crcTable ??= Int32Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  let crc = -1;
  for (const byte of data) crc = crcTable[(crc ^ byte) & 0xff] ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
