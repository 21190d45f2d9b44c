import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

/**
 * Just enough of pyproject.toml to place an in-repo Python package in the
 * project graph: its distribution name and the names it depends on. A full
 * TOML parser is not needed for the `[project]` table's `name` and
 * `dependencies` (PEP 621), and the graph must never fail on a file it does
 * not understand: anything unreadable gives no name and no dependencies.
 */
export interface PyprojectInfo {
  name?: string;
  version?: string;
  dependencies: string[];
}

export function readPyproject(file: string): PyprojectInfo {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { dependencies: [] };
  }
  const table = projectTable(text);
  const str = (key: string) => new RegExp(`^${key}\\s*=\\s*["']([^"']+)["']`, 'm').exec(table)?.[1];
  const deps = /^dependencies\s*=\s*\[([\s\S]*?)\]/m.exec(table)?.[1] ?? '';
  return { name: str('name'), version: str('version'), dependencies: [...deps.matchAll(/["']([^"']+)["']/g)].map((m) => m[1]) };
}

function projectTable(text: string): string {
  const start = /^\[project\]\s*$/m.exec(text);
  if (!start) return '';
  const rest = text.slice(start.index + start[0].length);
  const next = /^\[/m.exec(rest);
  return next ? rest.slice(0, next.index) : rest;
}

/** PEP 503 normalised name: `Studio_Imaging` → `studio-imaging`. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

/** The project name a requirement specifier names (`pillow[extra]>=10; python_version>"3"` → `pillow`), if any. */
export function requirementName(requirement: string): string | undefined {
  const m = /^\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)/.exec(requirement);
  return m && !requirement.trim().startsWith('-') ? normalizeName(m[1]) : undefined;
}

/**
 * The package names an environment spec asks for, by name: its "packages"
 * and the lines of its requirements files. Read leniently (no validation):
 * used to draw the project graph, where a broken spec must not hide others.
 */
export function declaredRequirementNames(specFile: string): string[] {
  let raw: { packages?: unknown; requirements?: unknown };
  try {
    raw = JSON.parse(readFileSync(specFile, 'utf8'));
  } catch {
    return [];
  }
  const lines: string[] = Array.isArray(raw.packages) ? raw.packages.filter((p): p is string => typeof p === 'string') : [];
  for (const rel of Array.isArray(raw.requirements) ? raw.requirements : []) {
    const file = path.resolve(path.dirname(specFile), String(rel));
    if (existsSync(file)) lines.push(...readFileSync(file, 'utf8').split(/\r?\n/).map((l) => l.replace(/#.*/, '')));
  }
  return [...new Set(lines.map(requirementName).filter((n): n is string => n !== undefined))];
}

/** The "base" an environment spec names, read leniently (see declaredRequirementNames). */
export function declaredBase(specFile: string): string | undefined {
  try {
    const base = JSON.parse(readFileSync(specFile, 'utf8')).base;
    return typeof base === 'string' ? base : undefined;
  } catch {
    return undefined;
  }
}
