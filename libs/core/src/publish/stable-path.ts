import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readManifest } from '../environment/manifest';
import { writeFileAtomic } from '../fs/atomic';
import { chmodShared, sharedMode } from '../fs/permissions';
import { platformOfManifest } from '../model/platform';

/*
 * The stable path of a Windows environment (docs/WINDOWS.md, "What hosts
 * point at"): `<depot>\windows\<env>\Scripts\`, the folder a host
 * application (3ds Max, Maya) or an artist puts on %PATH%. Windows shares and
 * VCS checkouts have no symlinks, so `current` cannot be a folder there; each
 * file in it is a copy of pydepot's launcher that reads current.json when it
 * starts (launcher_win.c): python.exe and pythonw.exe run that version in
 * their own process, any other name starts that version's program of the
 * same name. The process is pinned to the version it started on; the next
 * start takes whatever publish or rollback made current.
 */
export const STABLE_SCRIPTS = 'Scripts';

/**
 * Make `<envDir>/Scripts` match what `version` (now current) provides: one
 * launcher copy per .exe of its Scripts\ (the GUI-subsystem launcher for GUI
 * programs), others removed. Each file is replaced through a temp file and a
 * rename, and only when its bytes change (a running .exe cannot be replaced
 * on Windows; an unchanged one never needs to be). No-op for non-Windows
 * versions.
 */
export async function refreshStableScripts(envDir: string, version: string, log?: (m: string) => void, groupWritable = false): Promise<void> {
  const versionDir = path.join(envDir, version);
  const manifest = await readManifest(versionDir).catch(() => undefined);
  if (!manifest?.platform || platformOfManifest(manifest) !== 'windows' || !manifest.runtime) return;
  const from = path.join(versionDir, 'Scripts');
  const [console, gui] = await Promise.all([fs.readFile(path.join(from, 'python.exe')), fs.readFile(path.join(from, 'pythonw.exe'))]);
  const stable = path.join(envDir, STABLE_SCRIPTS);
  await fs.mkdir(stable, { recursive: true });
  await chmodShared(stable, groupWritable);
  const wanted = new Map<string, Buffer>();
  for (const name of await fs.readdir(from)) {
    if (!name.toLowerCase().endsWith('.exe')) continue;
    const isGui = name.toLowerCase() === 'pythonw.exe' || peSubsystem(await readHead(path.join(from, name))) === 2;
    wanted.set(name, isGui ? gui : console);
  }
  let changed = 0;
  for (const [name, data] of wanted) {
    const file = path.join(stable, name);
    const existing = await fs.readFile(file).catch(() => undefined);
    if (existing && existing.equals(data)) continue;
    await writeFileAtomic(file, data, sharedMode('file', 0o755, groupWritable)); // an exact mode, whatever the agent's umask
    changed++;
  }
  for (const name of await fs.readdir(stable)) {
    if (!wanted.has(name) && name.toLowerCase().endsWith('.exe')) {
      await fs.rm(path.join(stable, name), { force: true });
      changed++;
    }
  }
  if (changed) log?.(`stable path ${stable}: ${[...wanted.keys()].join(', ')} (start the current version)`);
}

async function readHead(file: string): Promise<Buffer> {
  const handle = await fs.open(file, 'r');
  try {
    const buffer = Buffer.alloc(4096);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** A PE file's subsystem (2: GUI, 3: console); undefined for anything else. */
export function peSubsystem(head: Buffer): number | undefined {
  if (head.length < 0x40 || head.toString('latin1', 0, 2) !== 'MZ') return undefined;
  const pe = head.readUInt32LE(0x3c);
  if (pe + 24 + 70 > head.length || head.toString('latin1', pe, pe + 4) !== 'PE\0\0') return undefined;
  return head.readUInt16LE(pe + 24 + 68);
}
