import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isInside } from '../extract/extract';
import { mapLimit, TreeEntry, walkTree } from '../fs/tree';
import { isElf, readElfRunpaths } from '../interpreter/elf';

export interface AuditFinding {
  /** Relative to the audited root. */
  path: string;
  reason: string;
  hint: string;
}

/** Shebang interpreters that are the same on every POSIX machine. */
const PORTABLE_SHEBANGS = new Set(['/bin/sh', '/bin/bash', '/usr/bin/env']);

/**
 * Look for anything that ties an environment to the machine it was built on:
 * occurrences of `needles` (the workspace, build and source-interpreter
 * paths) in any file, text or binary; and, whatever the path, symlinks that
 * are absolute or lead outside the tree, ELF RUNPATH/RPATH entries that are
 * not $ORIGIN-relative, scripts in bin/ or Scripts/ whose shebang names an
 * interpreter by absolute path, and absolute paths in .pth files.
 */
export async function auditTree(root: string, needles: string[], only?: (entry: TreeEntry) => boolean | Promise<boolean>, options: { windows?: boolean } = {}): Promise<AuditFinding[]> {
  const texts = [...new Set(needles.filter((n) => n.length > 1).map((n) => n.replace(/[\\/]+$/, '')))];
  const patterns = texts.flatMap((n) => (options.windows ? windowsForms(n) : [{ text: n, bytes: Buffer.from(n) }]));
  const all = await walkTree(root);
  const entries = only ? (await mapLimit(all, 32, async (e) => ((await only(e)) ? e : undefined))).filter((e): e is TreeEntry => e !== undefined) : all;
  const findings: AuditFinding[] = [];
  await mapLimit(entries, 16, async (e) => {
    const abs = path.join(root, e.rel);
    if (e.kind === 'symlink') {
      const target = await fs.readlink(abs);
      if (path.isAbsolute(target)) findings.push({ path: e.rel, reason: `absolute symlink to ${target}`, hint: 'make it relative to its own folder' });
      else if (!isInside(root, path.resolve(path.dirname(abs), target)))
        findings.push({ path: e.rel, reason: `symlink to ${target} leads outside the environment`, hint: 'copy the target into the environment or drop the link' });
      return;
    }
    if (e.kind !== 'file') return;
    const data = await fs.readFile(abs);
    // A precise structural finding says more than "contains <path>": report one or the other.
    const structural = structuralFindings(e.rel, data);
    findings.push(...structural);
    if (structural.length) return;
    for (const p of patterns) {
      const at = data.indexOf(p.bytes);
      if (at < 0) continue;
      findings.push({ path: e.rel, reason: `${describeFile(e.rel, data)} contains ${p.text}${context(data, at, p.bytes.length)}`, hint: hintFor(e.rel, data) });
    }
  });
  return findings.sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * A build path as a file of a Windows environment may hold it: as it is, in
 * Windows form (`\\tmp\\build\\…`, which Wine shows as `Z:\\tmp\\build\\…`),
 * each also as UTF-16 (Windows binaries keep wide strings).
 */
export function windowsForms(needle: string): Array<{ text: string; bytes: Buffer }> {
  const forms = [...new Set([needle, needle.replace(/\//g, '\\')])];
  return forms.flatMap((text) => [
    { text, bytes: Buffer.from(text, 'utf8') },
    { text: `${text} (UTF-16)`, bytes: Buffer.from(text, 'utf16le') },
  ]);
}

/** Absolute references a relocated environment may not hold, whatever path they name. */
function structuralFindings(rel: string, data: Buffer): AuditFinding[] {
  const found: AuditFinding[] = [];
  if (isElf(data)) {
    for (const entry of readElfRunpaths(data) ?? []) {
      if (!entry.startsWith('$ORIGIN') && !entry.startsWith('${ORIGIN}'))
        found.push({ path: rel, reason: `ELF RUNPATH entry ${entry} is absolute`, hint: 'set RUNPATH to $ORIGIN-relative entries (patchelf --set-rpath \'$ORIGIN/../lib\')' });
    }
    return found;
  }
  const top = rel.split('/')[0];
  if ((top === 'bin' || top === 'Scripts') && data.subarray(0, 2).toString() === '#!') {
    const line = data.subarray(2, Math.max(2, data.indexOf(10))).toString('utf8').trim();
    const interpreter = line.split(/\s+/)[0] ?? '';
    if (interpreter.startsWith('/') && !PORTABLE_SHEBANGS.has(interpreter))
      found.push({ path: rel, reason: `script shebang names ${interpreter}`, hint: SCRIPT_HINT });
  }
  if (rel.endsWith('.pth')) {
    for (const line of data.toString('utf8').split(/\r?\n/)) {
      if (/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(line.trim()))
        found.push({ path: rel, reason: `.pth line names the absolute path ${line.trim()}`, hint: PTH_HINT });
    }
  }
  return found;
}

const SCRIPT_HINT = 'a console script with an absolute shebang: reinstall through pydepot so it becomes a relative trampoline';
const PTH_HINT = 'a .pth line with an absolute path: make it relative to site-packages';

export function formatFindings(findings: AuditFinding[]): string {
  return findings.map((f) => `  - ${f.path}: ${f.reason}\n    hint: ${f.hint}`).join('\n');
}

function describeFile(rel: string, data: Buffer): string {
  if (isElf(data)) return 'ELF binary';
  if (rel.endsWith('.pyc')) return 'bytecode';
  if (data.subarray(0, 2).toString() === '#!') return 'script';
  return data.subarray(0, 8000).includes(0) ? 'binary file' : 'text file';
}

function context(data: Buffer, at: number, length: number): string {
  const start = data.lastIndexOf(10, at) + 1;
  const end = data.indexOf(10, at + length);
  const line = data.subarray(Math.max(start, at - 40), end < 0 ? at + length + 40 : Math.min(end, at + length + 40)).toString('utf8');
  return /^[\x20-\x7e\t]*$/.test(line) ? `: "${line.trim()}"` : '';
}

function hintFor(rel: string, data: Buffer): string {
  const base = path.basename(rel);
  if (data.subarray(0, 2).toString() === '#!') return SCRIPT_HINT;
  if (rel.endsWith('.pyc')) return 'bytecode compiled with an absolute co_filename: recompile with the environment root stripped';
  if (base === 'direct_url.json') return 'installed from a path or URL: install by name from an index or find-links folder';
  if (rel.endsWith('.pth')) return PTH_HINT;
  if (base.startsWith('_sysconfigdata')) return 'sysconfig data with the build prefix: it must resolve the prefix from its own file';
  if (isElf(data)) return 'an ELF RUNPATH or string with the build path: set RUNPATH to $ORIGIN-relative';
  return 'replace the absolute path with one relative to the environment root';
}
