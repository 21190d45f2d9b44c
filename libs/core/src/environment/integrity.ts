import { lstatSync, promises as fs, readlinkSync } from 'node:fs';
import * as path from 'node:path';
import { FILES_INDEX } from './manifest';
import { IndexedEntry, mapLimit, sha256File } from '../fs/tree';

/*
 * A published tree checked against the file index it carries
 * (pydepot-files.json: every entry with its kind, mode, size and sha256).
 * A partial sync, a truncated copy or a file changed by hand shows here,
 * named, before anything runs from the tree (a truncated libpython kills a
 * process with SIGBUS, which names nothing).
 */
export interface IntegrityProblem {
  /** Relative to the tree. */
  rel: string;
  problem: string;
}

export interface IntegrityReport {
  /** False: the tree carries no index (published by an older pydepot), so nothing could be checked. */
  indexed: boolean;
  checked: number;
  problems: IntegrityProblem[];
}

export async function readFileIndex(root: string): Promise<IndexedEntry[] | undefined> {
  try {
    return (JSON.parse(await fs.readFile(path.join(root, FILES_INDEX), 'utf8')) as { entries: IndexedEntry[] }).entries;
  } catch {
    return undefined;
  }
}

/**
 * Quick (the default): every entry there, of its kind, files at their size,
 * links to their target. `full`: file contents by sha256 too (a same-size
 * change). A share without symlinks holds copies where links were: a copy
 * is accepted for a link.
 */
export async function checkTreeIntegrity(root: string, options: { full?: boolean; index?: IndexedEntry[] } = {}): Promise<IntegrityReport> {
  const index = options.index ?? (await readFileIndex(root));
  if (!index) return { indexed: false, checked: 0, problems: [] };
  const problems: IntegrityProblem[] = [];
  const toHash: IndexedEntry[] = [];
  // Synchronous metadata reads: thousands of small entries, each cheaper than a thread-pool round trip (as walkTree).
  for (const e of index) {
    const abs = path.join(root, e.rel);
    let st;
    try {
      st = lstatSync(abs);
    } catch {
      problems.push({ rel: e.rel, problem: 'is missing' });
      continue;
    }
    if (e.kind === 'dir') {
      if (!st.isDirectory()) problems.push({ rel: e.rel, problem: 'should be a folder' });
    } else if (e.kind === 'symlink') {
      if (st.isSymbolicLink() && readlinkSync(abs) !== e.target) problems.push({ rel: e.rel, problem: `should link to ${e.target}` });
    } else if (!st.isFile()) problems.push({ rel: e.rel, problem: 'should be a file' });
    else if (st.size !== e.size) problems.push({ rel: e.rel, problem: `is ${st.size} bytes; it was published with ${e.size}` });
    else if (options.full) toHash.push(e);
  }
  await mapLimit(toHash, 8, async (e) => {
    if ((await sha256File(path.join(root, e.rel))) !== e.sha256) problems.push({ rel: e.rel, problem: 'has other content than was published (sha256 differs)' });
  });
  problems.sort((a, b) => a.rel.localeCompare(b.rel));
  return { indexed: true, checked: index.length, problems };
}

/** "lib/libpython3.12.so.1.0 is 4096 bytes; …" for messages: the first few, and how many more. */
export function describeProblems(problems: IntegrityProblem[], limit = 5): string {
  const shown = problems.slice(0, limit).map((p) => `  - ${p.rel} ${p.problem}`);
  if (problems.length > limit) shown.push(`  - … and ${problems.length - limit} more`);
  return shown.join('\n');
}
