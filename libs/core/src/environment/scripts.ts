import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { walkTree } from '../fs/tree';

/**
 * pip writes console scripts with the absolute path of the interpreter that
 * installed them (`#!/build/env/bin/python3.12`, or for long paths a
 * `#!/bin/sh` + `'''exec' "/build/..."` preamble). We replace that preamble
 * with one that execs the python next to the script's real location, so a
 * script works from any mount point, through a symlink, and when itself
 * symlinked elsewhere. The rest of the file is pip's, unchanged: the line
 * below is both shell (exec) and Python (a string literal).
 */
export function trampolinePreamble(interpreter: string): string {
  return [
    '#!/bin/sh',
    `'''exec' "$(dirname -- "$(realpath -- "$0" 2>/dev/null || printf '%s' "$0")")/${interpreter}" "$0" "$@"`,
    "' '''",
  ].join('\n');
}

/** Split a pip-written script into its interpreter's file name and its Python body; undefined if not one. */
export function parseScript(text: string): { interpreter: string; body: string } | undefined {
  const lines = text.split('\n');
  const shebang = /^#!\s*(\/\S*\/)(python[\d.]*)\s*$/.exec(lines[0] ?? '');
  if (shebang) return { interpreter: shebang[2], body: lines.slice(1).join('\n') };
  if (lines[0]?.trim() === '#!/bin/sh' && lines[2] === "' '''") {
    const exec = /^'''exec' "?(\/[^"]*\/)?(python[\d.]*)"? /.exec(lines[1] ?? '');
    if (exec) return { interpreter: exec[2], body: lines.slice(3).join('\n') };
  }
  return undefined;
}

/**
 * pip's Windows console scripts are distlib launchers: the launcher .exe, a
 * shebang line with the absolute interpreter path, then a zip holding
 * __main__.py. The launcher understands `<launcher_dir>\` as "the folder I am
 * in", so the shebang becomes `#!<launcher_dir>\..\python.exe` (python.exe
 * sits one level above Scripts\). Zip offsets are relative to the zip's own
 * start, so the shebang may change length. Returns undefined for anything else.
 */
export function relativeWindowsLauncher(exe: Buffer, relativeDir = '..'): Buffer | undefined {
  let eocd = -1;
  for (let i = exe.length - 22; i >= Math.max(0, exe.length - 22 - 0xffff); i--) {
    if (exe.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0 || exe.subarray(0, 2).toString('latin1') !== 'MZ') return undefined;
  const zipStart = eocd - exe.readUInt32LE(eocd + 12) - exe.readUInt32LE(eocd + 16);
  if (zipStart <= 0 || exe.readUInt32LE(zipStart) !== 0x04034b50) return undefined;
  const shebangStart = exe.lastIndexOf('#!', zipStart);
  if (shebangStart < 0 || zipStart - shebangStart > 2048) return undefined;
  const line = exe.subarray(shebangStart + 2, zipStart).toString('utf8').trim();
  const interpreter = /(pythonw?(?:\d+(?:\.\d+)?)?\.exe)"?\s*$/i.exec(line)?.[1];
  if (!interpreter) return undefined;
  const target = relativeDir === '.' ? interpreter : `${relativeDir.replace(/\//g, '\\')}\\${interpreter}`;
  const shebang = Buffer.from(`#!<launcher_dir>\\${target}\r\n`, 'utf8');
  return Buffer.concat([exe.subarray(0, shebangStart), shebang, exe.subarray(zipStart)]);
}

/**
 * Rewrite every pip-written script in `scriptsDir` as a trampoline; returns
 * the rewritten file names. `python`: the interpreter's path relative to the
 * root (Windows launchers point at it relative to themselves: python.exe at
 * the root of a self-contained environment, beside them in a venv).
 */
export async function makeScriptsRelocatable(root: string, scriptsDir: string, sitePackages: string, python?: string): Promise<string[]> {
  const pythonDir = python ? path.posix.relative(scriptsDir, path.posix.dirname(python)) || '.' : '..';
  const dir = path.join(root, scriptsDir);
  const rewritten: string[] = [];
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) {
    const file = path.join(dir, name);
    const st = await fs.lstat(file);
    if (!st.isFile() || st.size > 1 << 20) continue;
    if (name.toLowerCase().endsWith('.exe')) {
      const next = relativeWindowsLauncher(await fs.readFile(file), pythonDir);
      if (next) {
        await replaceFile(file, next, st.mode);
        rewritten.push(name);
      }
      continue;
    }
    const head = Buffer.alloc(2);
    const handle = await fs.open(file, 'r');
    await handle.read(head, 0, 2, 0);
    await handle.close();
    if (head.toString() !== '#!') continue;
    const text = await fs.readFile(file, 'utf8');
    const script = parseScript(text);
    if (!script) continue;
    const next = `${trampolinePreamble(script.interpreter)}\n${script.body}`;
    if (next === text) continue;
    await replaceFile(file, next, st.mode | 0o111);
    rewritten.push(name);
  }
  if (rewritten.length) await updateRecords(root, scriptsDir, sitePackages, rewritten);
  return rewritten;
}

async function replaceFile(file: string, data: string | Buffer, mode: number): Promise<void> {
  const tmp = `${file}.pydepot-tmp`;
  await fs.writeFile(tmp, data, { mode });
  await fs.rename(tmp, file);
}

/** Keep each RECORD's hash and size right for the scripts we rewrote, so `pip check`-style tools agree. */
async function updateRecords(root: string, scriptsDir: string, sitePackages: string, names: string[]): Promise<void> {
  const site = path.join(root, sitePackages);
  const wanted = new Set(names.map((n) => path.join(root, scriptsDir, n)));
  const records = (await walkTree(site, (rel, kind) => kind === 'dir' ? !rel.includes('/') && rel.endsWith('.dist-info') : /^[^/]+\.dist-info\/RECORD$/.test(rel)))
    .filter((e) => e.kind === 'file');
  for (const record of records) {
    const file = path.join(site, record.rel);
    const base = path.dirname(path.dirname(file));
    const lines = (await fs.readFile(file, 'utf8')).split('\n');
    let changed = false;
    const next = await Promise.all(
      lines.map(async (line) => {
        // pip writes RECORD with the csv module's "\r\n" line ends: keep whichever the line has.
        const m = /^(.*),(sha256=[^,]*)?,(\d*)(\r?)$/.exec(line);
        if (!m) return line;
        const target = path.resolve(base, m[1].replace(/^"|"$/g, ''));
        if (!wanted.has(target)) return line;
        const data = await fs.readFile(target);
        changed = true;
        const digest = createHash('sha256').update(data).digest('base64url');
        return `${m[1]},sha256=${digest},${data.length}${m[4]}`;
      }),
    );
    if (changed) await replaceFile(file, next.join('\n'), record.mode);
  }
}
