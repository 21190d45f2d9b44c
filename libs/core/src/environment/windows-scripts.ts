import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { crc32 } from 'node:zlib';
import { PydepotError } from '../errors';
import { writeFileAtomic } from '../fs/atomic';

/*
 * Console scripts of a Windows environment built on another OS. pip and uv
 * write a package's entry points as the agent's scripts (`<target>/bin/`,
 * POSIX shell preambles); a Windows environment needs what pip writes on
 * Windows: distlib's launcher (t64.exe, or w64.exe for GUI scripts, from the
 * runtime's own pip), a shebang line and a zip holding __main__.py. The
 * shebang is `#!<launcher_dir>\python.exe`: distlib's launcher reads it as
 * "python.exe beside me", so the script runs pydepot's launcher in Scripts\
 * wherever the depot is mounted.
 */

/** distlib's launchers inside pip (the runtime's pip, so they are the ones its version ships). */
export const DISTLIB_LAUNCHERS = { console: 'Lib/site-packages/pip/_vendor/distlib/t64.exe', gui: 'Lib/site-packages/pip/_vendor/distlib/w64.exe' } as const;

export interface EntryPoint {
  name: string;
  module: string;
  /** Dotted attribute path; undefined: the entry point is the module itself (not a valid script, skipped). */
  attr?: string;
  gui: boolean;
}

/** [console_scripts] and [gui_scripts] of an entry_points.txt (INI). */
export function parseEntryPoints(text: string): EntryPoint[] {
  const out: EntryPoint[] = [];
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1].trim();
      continue;
    }
    if (section !== 'console_scripts' && section !== 'gui_scripts') continue;
    const m = /^([^=\s][^=]*?)\s*=\s*([A-Za-z_][\w.]*)\s*(?::\s*([A-Za-z_][\w.]*))?\s*(\[.*\])?\s*$/.exec(line);
    if (!m || /[\\/:*?"<>|]/.test(m[1])) continue; // not a name a file can have
    out.push({ name: m[1], module: m[2], attr: m[3], gui: section === 'gui_scripts' });
  }
  return out;
}

/** pip's script body (its wheel installer's template). */
export function scriptBody(entry: EntryPoint & { attr: string }): string {
  const [head] = entry.attr.split('.');
  return [
    '# -*- coding: utf-8 -*-',
    'import re',
    'import sys',
    `from ${entry.module} import ${head}`,
    "if __name__ == '__main__':",
    "    sys.argv[0] = re.sub(r'(-script\\.pyw|\\.exe)?$', '', sys.argv[0])",
    `    sys.exit(${entry.attr}())`,
    '',
  ].join('\n');
}

/** A zip archive (stored, no compression) holding one file. */
export function storedZip(name: string, data: Buffer): Buffer {
  const fileName = Buffer.from(name, 'utf8');
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(0x0800, 6); // UTF-8 names
  local.writeUInt16LE(0, 8); // stored
  local.writeUInt32LE(0x00210000, 10); // 1980-01-01 00:00 (reproducible)
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(fileName.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(0x0800, 8);
  central.writeUInt32LE(0x00210000, 12);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(fileName.length, 28);
  const centralOffset = local.length + fileName.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + fileName.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([local, fileName, data, central, fileName, end]);
}

/** One script .exe: distlib's launcher, the relative shebang, the zip. */
export function windowsScript(launcher: Buffer, entry: EntryPoint & { attr: string }): Buffer {
  const shebang = Buffer.from(`#!<launcher_dir>\\${entry.gui ? 'pythonw.exe' : 'python.exe'}\r\n`, 'utf8');
  return Buffer.concat([launcher, shebang, storedZip('__main__.py', Buffer.from(scriptBody(entry), 'utf8'))]);
}

/**
 * Replace what the installer left in `<site-packages>/bin` (the agent's form
 * of the scripts) with the Windows form in Scripts\: an .exe per entry
 * point, other files (a package's data scripts) moved as they are. Each
 * distribution's RECORD names the files where they now are, with their hash,
 * so pip under Windows can uninstall them.
 */
export async function writeWindowsScripts(root: string, sitePackages: string, launchers: { console: Buffer; gui: Buffer }): Promise<string[]> {
  const site = path.join(root, sitePackages);
  const bin = path.join(site, 'bin');
  const scripts = path.join(root, 'Scripts');
  await fs.mkdir(scripts, { recursive: true });
  const written: string[] = [];
  const moved = new Map<string, { name: string; data: Buffer }>(); // "bin/<name>" → its replacement
  const dists = (await fs.readdir(site).catch(() => [] as string[])).filter((n) => n.endsWith('.dist-info')).sort();
  for (const dist of dists) {
    const text = await fs.readFile(path.join(site, dist, 'entry_points.txt'), 'utf8').catch(() => '');
    for (const entry of parseEntryPoints(text)) {
      if (!entry.attr) continue;
      const data = windowsScript(entry.gui ? launchers.gui : launchers.console, entry as EntryPoint & { attr: string });
      await writeFileAtomic(path.join(scripts, `${entry.name}.exe`), data, 0o755);
      written.push(`${entry.name}.exe`);
      moved.set(entry.name, { name: `${entry.name}.exe`, data });
    }
  }
  for (const name of await fs.readdir(bin).catch(() => [] as string[])) {
    if (moved.has(name)) continue;
    const data = await fs.readFile(path.join(bin, name));
    await writeFileAtomic(path.join(scripts, name), data, 0o755);
    moved.set(name, { name, data });
    written.push(name);
  }
  await fs.rm(bin, { recursive: true, force: true });
  for (const dist of dists) await rewriteRecord(path.join(site, dist, 'RECORD'), moved);
  return written;
}

async function rewriteRecord(file: string, moved: Map<string, { name: string; data: Buffer }>): Promise<void> {
  const text = await fs.readFile(file, 'utf8').catch(() => undefined);
  if (text === undefined) return;
  const mode = (await fs.stat(file)).mode & 0o777;
  let changed = false;
  const lines = text.split('\n').map((line) => {
    const m = /^"?\.\.\/\.\.\/bin\/([^,"]+)"?,[^,]*,\d*(\r?)$/.exec(line);
    const to = m && moved.get(m[1]);
    if (!m || !to) return line;
    changed = true;
    return `../../Scripts/${to.name},sha256=${createHash('sha256').update(to.data).digest('base64url')},${to.data.length}${m[2]}`;
  });
  if (changed) await writeFileAtomic(file, lines.join('\n'), mode);
}

/** distlib's launchers from the runtime's pip. */
export async function readDistlibLaunchers(runtimeRoot: string): Promise<{ console: Buffer; gui: Buffer }> {
  try {
    const [console, gui] = await Promise.all([fs.readFile(path.join(runtimeRoot, DISTLIB_LAUNCHERS.console)), fs.readFile(path.join(runtimeRoot, DISTLIB_LAUNCHERS.gui))]);
    return { console, gui };
  } catch (error) {
    throw new PydepotError(`the runtime ${runtimeRoot} has no distlib launchers in its pip (${DISTLIB_LAUNCHERS.console}): ${(error as Error).message}`, {
      path: runtimeRoot,
      hint: 'use a Windows CPython whose pip is 19.0 or newer (it ships them); console scripts are .exe files made from them',
    });
  }
}
