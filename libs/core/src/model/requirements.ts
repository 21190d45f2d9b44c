import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { PydepotError } from '../errors';

/**
 * Requirement checks that run when a spec is loaded, before any stage: a
 * typo, a URL or a requirements file that redirects where packages come
 * from is reported in a second, naming the file, the line and the entry,
 * instead of after the interpreter was unpacked and bootstrapped.
 *
 * An environment's packages come only from its own "index" settings, so
 * requirement-file options that add or replace a package source are refused,
 * and so are direct references (`name @ https://…`), URLs and paths.
 */

const NAME = '[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?';
const EXTRAS = `\\[\\s*(?:${NAME}(?:\\s*,\\s*${NAME})*)?\\s*\\]`;
const VERSION = '[A-Za-z0-9.*+!_-]+';
const CLAUSE = `(?:===|==|!=|<=|>=|~=|<|>)\\s*${VERSION}`;
const SPECIFIER = `${CLAUSE}(?:\\s*,\\s*${CLAUSE})*`;
/** PEP 508 name, extras, version specifier (bare or parenthesised) and an environment marker. */
const REQUIREMENT = new RegExp(`^(${NAME})\\s*(?:${EXTRAS})?\\s*(?:\\(\\s*${SPECIFIER}\\s*\\)|${SPECIFIER})?\\s*(?:;\\s*\\S.*)?$`);

/** Options that change where packages come from: never from a requirements file. */
const SOURCE_OPTIONS = new Set(['-i', '--index-url', '--extra-index-url', '-f', '--find-links', '--trusted-host', '--no-index']);
/** Options a requirements file may carry (pip's and uv's spelling). */
const FILE_OPTIONS = new Set(['-r', '--requirement', '-c', '--constraint']);
const GLOBAL_OPTIONS = new Set(['--pre', '--prefer-binary', '--require-hashes', '--only-binary', '--no-binary']);
const GLOBAL_OPTIONS_WITH_VALUE = new Set(['--only-binary', '--no-binary']);

/** What is wrong with one requirement specifier, or undefined when it is fine. */
export function requirementProblem(text: string): { message: string; hint: string } | undefined {
  const req = text.trim();
  if (/^[^;]*\s@\s*\S/.test(req) || /^[A-Za-z0-9._-]+(\[[^\]]*\])?@/.test(req)) {
    return {
      message: 'is a direct reference (name @ URL)',
      hint: 'packages come only from the environment\'s "index" settings: install it by name from a private index or an "index.findLinks" folder',
    };
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(req) || /^(\.{1,2}[\\/]|[\\/]|~|[A-Za-z]:[\\/])/.test(req) || /\.(whl|tar\.gz|zip|tar\.bz2)$/i.test(req)) {
    return { message: 'is a URL or a path, not a requirement', hint: 'name the package (and pin it); put its wheel in an "index.findLinks" folder or on a private index' };
  }
  if (REQUIREMENT.test(req)) return undefined;
  const single = /^[A-Za-z0-9._-]+\s*=\s*[^=]/.test(req);
  return {
    message: 'is not a valid requirement specifier',
    hint: single ? 'pin with "==" (e.g. "pillow==11.3.0"), not "="' : 'write it as name[extras] followed by a version specifier, e.g. "pillow==11.3.0" or "click>=8,<9" (PEP 508)',
  };
}

/** Check every entry of "packages"; errors name the spec file and the entry. */
export function checkPackages(specFile: string, packages: string[]): void {
  packages.forEach((entry, i) => {
    const problem = requirementProblem(entry);
    if (problem) throw new PydepotError(`${specFile}: field "packages[${i}]" ("${entry}") ${problem.message}`, { path: specFile, hint: problem.hint });
  });
}

/**
 * Check a requirements file (and the files it includes with -r/-c): every
 * line a valid requirement or an allowed option. `field` names the spec field
 * that listed it, for the message.
 */
export function checkRequirementsFile(file: string, field: string, specFile: string, seen: Set<string> = new Set()): void {
  const abs = path.resolve(file);
  if (seen.has(abs)) return;
  seen.add(abs);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (error) {
    throw new PydepotError(`${specFile}: field "${field}" names ${abs}, which cannot be read: ${(error as Error).message}`, {
      path: specFile,
      hint: 'requirements files are relative to environment.json: fix the path or add the file',
    });
  }
  const fail = (line: number, entry: string, message: string, hint: string): never => {
    throw new PydepotError(`${abs}:${line}: "${entry}" ${message}`, { path: abs, hint });
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const number = i + 1;
    let line = lines[i];
    // Continuation lines join the next one.
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + lines[++i];
    line = line.replace(/(^|\s)#.*$/, '').trim();
    if (!line) continue;
    if (line.startsWith('-')) {
      const [option, ...rest] = line.split(/\s+|=/);
      const value = rest.join(' ').trim();
      if (SOURCE_OPTIONS.has(option)) {
        fail(number, line, 'changes where packages come from', 'an environment\'s packages come only from its "index" settings in environment.json: move this there (index.url, index.extraUrls, index.findLinks) and remove the line');
      }
      if (option === '-e' || option === '--editable') fail(number, line, 'is an editable install', 'editable installs point at a source folder that does not travel with the environment: install the package by name');
      if (FILE_OPTIONS.has(option)) {
        if (!value) fail(number, line, 'names no file', 'give the file to include, relative to this one');
        checkRequirementsFile(path.resolve(path.dirname(abs), value), field, specFile, seen);
        continue;
      }
      if (GLOBAL_OPTIONS.has(option)) {
        if (GLOBAL_OPTIONS_WITH_VALUE.has(option) && !value) fail(number, line, 'needs a value', 'e.g. "--only-binary :all:"');
        continue;
      }
      fail(number, line, `uses an option pydepot does not accept in requirements files (${option})`, `allowed: -r/-c, ${[...GLOBAL_OPTIONS].join(', ')}; package sources belong in environment.json's "index"`);
    }
    // A requirement, with per-requirement options (--hash) after it.
    const requirement = line.split(/\s+--/)[0].trim();
    const options = line.slice(requirement.length).trim();
    if (options && !/^(--hash[=\s]\S+\s*)+$/.test(options)) fail(number, line, 'carries an option other than --hash', 'per-requirement options other than --hash are not accepted');
    const problem = requirementProblem(requirement);
    if (problem) fail(number, requirement, problem.message, problem.hint);
  }
}
